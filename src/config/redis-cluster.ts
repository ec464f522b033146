// Redis Cluster (`redis.cluster: true`): which nodes REDIS_URL names, and what the prefixes must be.
//
// A cluster spreads keys over 16,384 slots by a hash of the key, and a Lua script or a MULTI may
// only touch keys of one slot. Gerbang's scripts (the circuit, the record budget, the locks,
// BullMQ's own) each work on keys under one prefix; a hash tag in the prefix (`{gerbang}:`) makes
// Redis hash only the tag, so every key under the prefix lands in one slot. BullMQ requires it of
// its queue prefix. A prefix without a tag would put the keys of one script on different nodes and
// fail at the first push, so it is refused when the configuration is read, not found out later.

/** The prefixes a cluster gets when the file names none (0.3.x/0.4.x stores never lived on a cluster). */
export const CLUSTER_KEY_PREFIX = '{gerbang}:';
export const CLUSTER_QUEUE_PREFIX = '{gerbang-q}';

/**
 * The hash tag that decides the slot of every key starting with `prefix`, or undefined when the
 * rest of the key could still change it. Redis hashes what is between the key's first `{` and the
 * first `}` after it, when that is not empty; both must therefore be inside the prefix.
 */
export function hashTagOf(prefix: string): string | undefined {
  const open = prefix.indexOf('{');
  if (open < 0) return undefined;
  const close = prefix.indexOf('}', open + 1);
  if (close < 0 || close === open + 1) return undefined;
  return prefix.slice(open + 1, close);
}

export interface ClusterSeed {
  host: string;
  port: number;
}

export interface ClusterSeeds {
  nodes: ClusterSeed[];
  username?: string;
  password?: string;
  tls: boolean;
}

/**
 * The nodes of REDIS_URL, comma-separated (`redis://10.0.0.1:6379,redis://10.0.0.2:6379`, or
 * `host:port` as redis-cli --cluster names them, `redis://` then being understood). One
 * is enough, the client learns the others from it; more let the gateway start while one is down.
 * Throws with the reason when a part is not a Redis URL.
 */
export function clusterSeeds(redisUrl: string): ClusterSeeds {
  const urls = redisUrl.split(',').map((s) => s.trim()).filter(Boolean);
  if (urls.length === 0) throw new Error('names no node');
  const parsed = urls.map((text) => {
    let url: URL;
    try {
      url = new URL(text.includes('://') ? text : `redis://${text}`);
    } catch {
      throw new Error(`"${redactUrl(text)}" is not a URL`);
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error(`"${redactUrl(text)}" is not a redis:// or rediss:// URL`);
    if (!url.hostname) throw new Error(`"${redactUrl(text)}" names no host`);
    // A cluster has only database 0.
    if (url.pathname !== '' && url.pathname !== '/' && url.pathname !== '/0') throw new Error(`"${redactUrl(text)}" names database ${url.pathname.slice(1)}; a Redis Cluster has only database 0`);
    return url;
  });
  const first = parsed[0]!;
  const same = (u: URL) => u.protocol === first.protocol && u.username === first.username && u.password === first.password;
  if (!parsed.every(same)) throw new Error('names nodes with different schemes or credentials; every node of a cluster takes the same');
  return {
    nodes: parsed.map((u) => ({ host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: u.port ? Number(u.port) : 6379 })),
    ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
    ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
    tls: first.protocol === 'rediss:',
  };
}

/** A URL for a message: the password never reaches a log. */
function redactUrl(text: string): string {
  return text.replace(/\/\/([^@/]*)@/, '//***@');
}

/**
 * What is wrong with a cluster configuration, as lines of the configuration error (none: fine).
 * `ledgerStore`: where the ledger lives; the Redis ledger's scripts name keys at run time and keep
 * every record under one prefix, which on a cluster would be one slot on one node.
 */
export function clusterProblems(o: { redisUrl: string | undefined; keyPrefix: string; queuePrefix: string; ledgerStore: 'redis' | 'postgres' }): string[] {
  const problems: string[] = [];
  if (!o.redisUrl) {
    problems.push('  /redis/cluster: REDIS_URL must name the cluster\'s nodes (a private Redis is a single server)');
  } else {
    try {
      clusterSeeds(o.redisUrl);
    } catch (err) {
      problems.push(`  REDIS_URL ${(err as Error).message}`);
    }
  }
  const tagged = (name: string, prefix: string, example: string) => {
    if (hashTagOf(prefix) === undefined) {
      problems.push(`  /redis/${name}: "${prefix}" has no hash tag; on a Redis Cluster it must have one, so that the keys of each script share a slot (for example "${example}")`);
    }
  };
  tagged('keyPrefix', o.keyPrefix, `{${o.keyPrefix.replace(/[:{}]+$/g, '').replace(/[{}]/g, '') || 'gerbang'}}:`);
  tagged('queuePrefix', o.queuePrefix, `{${o.queuePrefix.replace(/[{}]/g, '') || 'gerbang-q'}}`);
  if (o.ledgerStore !== 'postgres') problems.push("  /redis/cluster: the ledger must be in PostgreSQL on a Redis Cluster (ledger.store: 'postgres')");
  return problems;
}
