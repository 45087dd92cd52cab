import { spawn } from 'node:child_process';

export interface ShellSession {
  /** Runs a script in the session, as typed into a terminal, and resolves with what it printed on stdout. */
  run(script: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * One bash process fed scripts one after another, so shell state (variables,
 * functions) carries over between them as it does in a user's terminal.
 */
export function startShellSession(options: { cwd: string; env: NodeJS.ProcessEnv }): ShellSession {
  const shell = spawn('bash', ['--noprofile', '--norc'], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => shell.once('exit', () => resolve()));
  let stdout = '';
  let stderr = '';
  shell.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  shell.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  let scripts = 0;

  return {
    async run(script) {
      if (shell.exitCode !== null || shell.signalCode !== null)
        throw new Error(`bash has exited:\n${stderr}`);
      scripts += 1;
      const marker = `__script_${scripts}_done__`;
      const start = stdout.length;
      shell.stdin.write(`${script}\nprintf '\\n%s\\n' '${marker}'\n`);
      return new Promise((resolve, reject) => {
        const check = () => {
          const end = stdout.indexOf(`\n${marker}\n`, start);
          if (end < 0) return;
          shell.stdout.off('data', check);
          shell.off('exit', onExit);
          resolve(stdout.slice(start, end));
        };
        const onExit = () => reject(new Error(`bash exited while running:\n${script}\nstderr:\n${stderr}`));
        shell.stdout.on('data', check);
        shell.once('exit', onExit);
        check();
      });
    },
    async close() {
      if (shell.exitCode === null && shell.signalCode === null) shell.kill('SIGKILL');
      await exited;
    },
  };
}
