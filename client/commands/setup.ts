import proto from '@temporalio/proto';
import { SearchAttributeKeys } from '../../shared/names.js';
import { withRefitClient } from '../cliContext.js';

const { IndexedValueType } = proto.temporal.api.enums.v1;

/** Registers Refit's search attributes in the namespace (once per namespace on a real cluster). */
export function setupCommand(): Promise<number> {
  return withRefitClient(async (refit) => {
    const namespace = refit.client.options.namespace;
    const operator = refit.client.connection.operatorService;
    const existing = await operator.listSearchAttributes({ namespace });
    const known = new Set(Object.keys(existing.customAttributes ?? {}));
    const missing = Object.values(SearchAttributeKeys).filter((key) => !known.has(key.name));
    if (!missing.length) {
      console.log(`namespace "${namespace}" already has Refit's ${Object.keys(SearchAttributeKeys).length} search attributes`);
      return;
    }
    await operator.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(
        missing.map((key) => [key.name, key.type === 'BOOL' ? IndexedValueType.INDEXED_VALUE_TYPE_BOOL : IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
      ),
    });
    console.log(`registered ${missing.map((key) => key.name).join(', ')} in namespace "${namespace}"`);
  });
}
