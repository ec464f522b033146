import type { Test } from 'tap';
import { startFhirServer, type FhirServerHandle } from './fhir-server.js';
import { sandboxUpstream, startGateway, type GatewayOptions, type InProcessGateway } from './gateway.js';
import { startRedis, type RedisHandle } from './redis-server.js';

/**
 * What most integration tests need: a private Redis, a FHIR engine, and the gateway in this process
 * delivering to it as upstream `sandbox`; all stopped when the test file ends.
 */
export async function startStack(t: Test, upstream: Record<string, unknown> = {}, gateway: Omit<GatewayOptions, 'redisUrl' | 'upstreams'> = {}): Promise<{ redis: RedisHandle; fhir: FhirServerHandle; gw: InProcessGateway }> {
  const redis = await startRedis();
  const fhir = await startFhirServer();
  const gw = await startGateway({ ...gateway, redisUrl: redis.url, upstreams: [{ name: 'sandbox', ...sandboxUpstream(fhir.baseUrl), ...upstream }] });
  t.teardown(async () => {
    await gw.close();
    await fhir.stop();
    await redis.stop();
  });
  return { redis, fhir, gw };
}
