import proto from '@temporalio/proto';
import { SearchAttributeKeys } from '../../shared/names.js';
import { connectClient, temporalSettings } from '../connection.js';
import { EXIT } from '../output.js';

const { IndexedValueType } = proto.temporal.api.enums.v1;

/** Registers Refit's search attributes in the namespace (once per namespace on a real cluster). */
export async function setupCommand(): Promise<number> {
  const settings = temporalSettings();
  let client;
  try {
    client = await connectClient(settings);
  } catch (err) {
    console.error(`refit: ${(err as Error).message}`);
    return EXIT.unavailable;
  }
  try {
    const operator = client.connection.operatorService;
    const existing = await operator.listSearchAttributes({ namespace: settings.namespace });
    const known = new Set(Object.keys(existing.customAttributes ?? {}));
    const missing = Object.values(SearchAttributeKeys).filter((key) => !known.has(key.name));
    if (!missing.length) {
      console.log(`namespace "${settings.namespace}" already has Refit's ${Object.keys(SearchAttributeKeys).length} search attributes`);
      return EXIT.ok;
    }
    await operator.addSearchAttributes({
      namespace: settings.namespace,
      searchAttributes: Object.fromEntries(missing.map((key) => [key.name, key.type === 'BOOL' ? IndexedValueType.INDEXED_VALUE_TYPE_BOOL : IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
    });
    console.log(`registered ${missing.map((key) => key.name).join(', ')} in namespace "${settings.namespace}"`);
    return EXIT.ok;
  } finally {
    await client.connection.close();
  }
}
