/**
 * A Redis Cluster in one URL (config `online.url`): `redis+cluster://` (or `rediss+cluster://`,
 * TLS) then optional credentials, then the seed nodes, any few of the cluster's nodes: the client
 * learns the others from them (CLUSTER SLOTS).
 *
 * @example
 *   parseClusterUrl('redis+cluster://:s3cret@10.0.0.1:7000,10.0.0.2:7000')
 *   // => { nodes: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7000 }], password: 's3cret', tls: false }
 *   parseClusterUrl('redis://127.0.0.1:6379') // => undefined (not a cluster URL)
 *   parseClusterUrl('redis+cluster://h1')     // throws: seed node 1 ... must be host:port
 */
export interface ClusterUrl {
  readonly nodes: readonly { readonly host: string; readonly port: number }[];
  readonly username?: string;
  readonly password?: string;
  readonly tls: boolean;
}

const CLUSTER_URL = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/@?#]*)\/?$/i;

/** True when the text claims to be a cluster URL (valid or not). */
export function isClusterUrl(text: string): boolean {
  return /^rediss?\+cluster:/i.test(text);
}

/** The seed nodes and credentials of a cluster URL; undefined for any other URL. Throws naming what is wrong. */
export function parseClusterUrl(text: string): ClusterUrl | undefined {
  if (!isClusterUrl(text)) return undefined;
  const match = CLUSTER_URL.exec(text);
  if (!match) throw new Error('is not a cluster URL (expected redis+cluster://[user:password@]host:port,host:port)');
  const hosts = match[3]!.split(',').map((h) => h.trim()).filter((h) => h !== '');
  if (hosts.length === 0) throw new Error('names no seed node (expected redis+cluster://host:port,host:port)');
  const nodes = hosts.map((node, i) => {
    const at = node.lastIndexOf(':');
    const port = Number(node.slice(at + 1));
    if (at <= 0 || !/^\d{1,5}$/.test(node.slice(at + 1)) || port < 1 || port > 65535 || /[\s/]/.test(node)) {
      throw new Error(`seed node ${i + 1} must be host:port, got '${node}'`);
    }
    return { host: node.slice(0, at), port };
  });
  const [user, password] = splitUserinfo(match[2]);
  return {
    nodes,
    ...(user ? { username: user } : {}),
    ...(password !== undefined ? { password } : {}),
    tls: match[1]!.toLowerCase() === 'rediss',
  };
}

function splitUserinfo(userinfo: string | undefined): [string | undefined, string | undefined] {
  if (userinfo === undefined || userinfo === '') return [undefined, undefined];
  const colon = userinfo.indexOf(':');
  if (colon < 0) return [decodeURIComponent(userinfo), undefined];
  return [decodeURIComponent(userinfo.slice(0, colon)) || undefined, decodeURIComponent(userinfo.slice(colon + 1))];
}
