import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  getNullableType,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';

/**
 * The cost model: a leaf field costs 1, a field with a selection 2 plus 1.5
 * times its selection's cost, and either is multiplied by the number of
 * items it can return. Fragments count as if written out in place, so how a
 * query is split into fragments does not change its cost.
 */
export const costModel = { leaf: 1, object: 2, depthFactor: 1.5 } as const;

/** Fields whose answer is the schema itself: bounded by it, and off in production. */
const introspectionFields = new Set(['__schema', '__type']);

/** Argument names that set how many items a field returns. */
const pageSizeArguments = new Set(['first', 'last']);

type Variables = Readonly<Record<string, unknown>> | null | undefined;

/**
 * What an operation can cost, with list sizes taken from the request:
 * `first` as a literal, from a variable, from the variable's default or
 * from the argument's default in the schema; and, for a field that returns
 * a list, the length of a list argument such as `documents(ids:)`. Aliases
 * are separate fields and each is counted. With `variables` absent, every
 * variable takes its default (how a persisted operation is checked when the
 * manifest loads).
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables?: Variables,
): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const variableDefaults = new Map<string, ValueNode>();
  for (const definition of operation.variableDefinitions ?? []) {
    if (definition.defaultValue)
      variableDefaults.set(definition.variable.name.value, definition.defaultValue);
  }
  const argumentValue = (node: ValueNode): unknown => {
    switch (node.kind) {
      case Kind.INT:
        return Number(node.value);
      case Kind.LIST:
        return node.values.map(argumentValue);
      case Kind.VARIABLE: {
        const name = node.name.value;
        if (variables && Object.hasOwn(variables, name)) return variables[name];
        const fallback = variableDefaults.get(name);
        return fallback ? argumentValue(fallback) : undefined;
      }
      default:
        return undefined;
    }
  };

  const itemCount = (field: FieldNode, definition: GraphQLField<unknown, unknown> | undefined): number => {
    const returnsList = definition ? isListType(getNullableType(definition.type)) : false;
    let count = 1;
    for (const argument of definition?.args ?? []) {
      const node = field.arguments?.find((candidate) => candidate.name.value === argument.name);
      // An explicit null takes the schema default too, as the subgraphs read it.
      const value = (node ? argumentValue(node.value) : undefined) ?? argument.defaultValue;
      if (pageSizeArguments.has(argument.name) && typeof value === 'number') count = Math.max(count, value);
      else if (returnsList && Array.isArray(value)) count = Math.max(count, value.length);
    }
    return count;
  };

  // Memoized per fragment: a fragment spread many times is priced once, so pricing stays linear.
  const fragmentCosts = new Map<string, number>();
  const selectionCost = (selectionSet: SelectionSetNode, parent: GraphQLNamedType | undefined): number => {
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (introspectionFields.has(selection.name.value)) continue;
        const definition =
          parent && (isObjectType(parent) || isInterfaceType(parent))
            ? parent.getFields()[selection.name.value]
            : undefined;
        const own = selection.selectionSet
          ? costModel.object +
            costModel.depthFactor *
              selectionCost(selection.selectionSet, definition && getNamedType(definition.type))
          : costModel.leaf;
        total += own * itemCount(selection, definition);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition && schema.getType(selection.typeCondition.name.value);
        total += selectionCost(selection.selectionSet, condition ?? parent);
      } else {
        const name = selection.name.value;
        const memo = fragmentCosts.get(name);
        if (memo !== undefined) {
          total += memo;
          continue;
        }
        const fragment = fragments.get(name);
        // Validation refuses cycles before this runs; the mark only keeps a stray one finite.
        fragmentCosts.set(name, 0);
        const cost = fragment
          ? selectionCost(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value))
          : 0;
        fragmentCosts.set(name, cost);
        total += cost;
      }
    }
    return total;
  };

  const root = schema.getRootType(operation.operation) ?? undefined;
  return selectionCost(operation.selectionSet, root);
}
