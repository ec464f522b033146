import t from 'tap';
import { CLUSTER_KEY_PREFIX, CLUSTER_QUEUE_PREFIX, clusterProblems, clusterSeeds, hashTagOf } from '../../src/config/redis-cluster.js';

t.test('the hash tag that decides the slot of every key under a prefix', async (t) => {
  t.equal(hashTagOf('{gerbang}:'), 'gerbang');
  t.equal(hashTagOf('dinkes:{bogor}:'), 'bogor', 'a tag need not open the prefix');
  t.equal(hashTagOf('{a}{b}'), 'a', 'the first tag is the one Redis hashes');
  t.equal(hashTagOf('g:'), undefined);
  t.equal(hashTagOf('{}g:'), undefined, 'empty: Redis hashes the whole key');
  t.equal(hashTagOf('{g:'), undefined, 'unclosed: the rest of the key could close it');
  t.equal(hashTagOf('}{g}'), 'g', 'a } before the first { does not count');
  t.equal(hashTagOf(CLUSTER_KEY_PREFIX), 'gerbang');
  t.equal(hashTagOf(CLUSTER_QUEUE_PREFIX), 'gerbang-q');
});

t.test('the seed nodes of REDIS_URL', async (t) => {
  t.strictSame(clusterSeeds('redis://10.0.0.1:7000, redis://10.0.0.2'), { nodes: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 6379 }], tls: false });
  t.strictSame(clusterSeeds('rediss://gw:s%40cret@[::1]:7001'), { nodes: [{ host: '::1', port: 7001 }], username: 'gw', password: 's@cret', tls: true });
  t.throws(() => clusterSeeds(''), /no node/);
  t.strictSame(clusterSeeds('10.0.0.1:7000,10.0.0.2:7001').nodes, [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7001 }], 'host:port, as redis-cli names nodes');
  t.throws(() => clusterSeeds('http://10.0.0.1:7000'), /not a redis/);
});

t.test('a cluster with the PostgreSQL ledger and tagged prefixes has no problem', async (t) => {
  t.strictSame(clusterProblems({ redisUrl: 'redis://10.0.0.1:7000', keyPrefix: '{x}:', queuePrefix: '{x-q}', ledgerStore: 'postgres' }), []);
  t.equal(clusterProblems({ redisUrl: 'redis://10.0.0.1:7000', keyPrefix: 'x:', queuePrefix: 'x-q', ledgerStore: 'postgres' }).length, 2);
});
