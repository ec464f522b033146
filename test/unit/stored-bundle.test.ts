import t from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { mapRecord } from '../../src/fhir/map-record.js';
import type { CanonicalRecord } from '../../src/records/schemas/index.js';
import { packBundle, unpackBundle } from '../../src/sync/stored-bundle.js';
import { validAncVisit, validAnthropometry } from '../fixtures/records.js';

const { facilities } = loadConfig({ GERBANG_DATA_DIR: '/tmp/gerbang-unit' });

t.test('a stored Bundle reads back exactly as mapped, in a fraction of its JSON size', async (t) => {
  for (const record of [validAnthropometry, validAncVisit]) {
    const { bundle } = mapRecord(record as unknown as CanonicalRecord, 'app-x', facilities);
    const packed = packBundle(bundle);
    const json = Buffer.byteLength(JSON.stringify(bundle));
    t.same(unpackBundle(packed), bundle, `${record.kind}: same Bundle back`);
    t.ok(packed.length * 3 < json, `${record.kind}: ${json} bytes of JSON stored in ${packed.length}`);
  }
});

t.test('a Bundle stored as plain JSON by 0.3.0 is still read (records queued before an upgrade)', async (t) => {
  const { bundle } = mapRecord(validAnthropometry as unknown as CanonicalRecord, 'app-x', facilities);
  t.same(unpackBundle(Buffer.from(JSON.stringify(bundle))), bundle);
});
