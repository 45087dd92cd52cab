import { describe, expect, it } from 'vitest';
import { spelledAs } from './did-you-mean.ts';

describe('spelledAs: a corrected index term as a word', () => {
  it('gives the stem back the ending that was typed', () => {
    expect(spelledAs('airodinamic', 'aerodynam')).toBe('aerodynamic');
    expect(spelledAs('presure', 'pressur')).toBe('pressure');
  });

  it("undoes the stemmer's y to i", () => {
    expect(spelledAs('gatway', 'gatewai')).toBe('gateway');
    expect(spelledAs('quers', 'queri')).toBe('query');
  });

  it('keeps the term when no spelling near the typed word stems to it', () => {
    expect(spelledAs('xyz', 'wing')).toBe('wing');
  });
});
