import { ChildProcess, execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis, { Cluster } from 'ioredis';
import { REDIS_LOOKUP, findRedisCli, findRedisServer } from './binaries';
import { freePort, until } from './servers';

/**
 * A Redis Cluster of the tests' own: masters and their replicas, each a redis-server from the
 * installed programs on free ports of 127.0.0.1 with a temporary folder, joined by
 * `redis-cli --cluster create`. A test can make a master fail over, bring the node back, and
 * ask the cluster who the masters are now.
 */

/** How many hash slots a Redis Cluster has. */
export const CLUSTER_SLOTS = 16_384;

/** The oldest redis-server whose clusters this harness can start (`cluster-port`, `CLUSTER SHARDS`, sharded pub/sub). */
const MIN_REDIS_VERSION = [7, 0] as const;

/** Where a node of the cluster listens for clients. */
export interface ClusterNodeAddress {
  host: '127.0.0.1';
  port: number;
}

/** A master of the cluster, as the cluster sees it now. */
export interface ClusterMaster extends ClusterNodeAddress {
  /** Its cluster node id. */
  id: string;
  /** The slot ranges it serves, both ends included, lowest first. */
  slots: Array<[from: number, to: number]>;
  /** The ports of its replicas that are up. */
  replicas: number[];
}

export interface RedisClusterOptions {
  /** How many masters share the slots: at least 3, for a failover needs a majority of them. 3 by default. */
  masters?: number;
  /** How many replicas each master has. 1 by default; a master fails over only if it has one. */
  replicasPerMaster?: number;
  /**
   * `cluster-node-timeout`: how long a node may not answer before the others take it for failed.
   * A failover takes about this plus one to two seconds. 2,000 ms by default.
   */
  nodeTimeoutMs?: number;
}

/** What {@link OwnRedisCluster.failover} did. */
export interface Failover {
  /** The port of the master it stopped. */
  stopped: number;
  /** The port of the replica that took over the stopped master's slots. */
  promoted: number;
}

/** The check that the cluster has settled; the cluster as it should look, if more is known. */
interface Expectation {
  masters?: number;
  replicasPerMaster?: number;
}

/** One node's view of one node of the cluster: a line of `CLUSTER NODES`. */
interface NodeView {
  id: string;
  port: number;
  flags: string[];
  /** The id of its master, for a replica. */
  masterId: string | null;
  slots: Array<[from: number, to: number]>;
}

/** How long the harness waits for the cluster to form, or to settle after a change. */
const SETTLE_TIMEOUT_MS = 30_000;

/** One redis-server of the cluster: its ports, its folder, its process while it runs. */
class ClusterNode {
  private child: ChildProcess | null = null;

  constructor(
    readonly port: number,
    private readonly busPort: number,
    readonly dir: string,
    private readonly program: string,
    private readonly nodeTimeoutMs: number,
  ) {}

  get address(): ClusterNodeAddress {
    return { host: '127.0.0.1', port: this.port };
  }

  /** Whether its process runs (it was started and has not been stopped). */
  get running(): boolean {
    return this.child !== null;
  }

  /** Starts redis-server, keeping its cluster configuration (nodes.conf) but no data. */
  async start(): Promise<void> {
    // The bus port is given, not taken as port + 10,000, which a free port may leave above 65,535.
    const args = [
      ['--port', this.port],
      ['--cluster-port', this.busPort],
      ['--bind', '127.0.0.1'],
      ['--cluster-enabled', 'yes'],
      ['--cluster-config-file', join(this.dir, 'nodes.conf')],
      ['--cluster-node-timeout', this.nodeTimeoutMs],
      ['--save', ''],
      ['--appendonly', 'no'],
      // A replica's full copy starts at once, not after the 5 s Redis waits for more replicas to join it.
      ['--repl-diskless-sync-delay', 0],
      ['--dir', this.dir],
      ['--logfile', join(this.dir, 'redis.log')],
    ].flatMap(([name, value]) => [String(name), String(value)]);
    this.child = spawn(this.program, args, { stdio: 'ignore' });
    await until(() => query(this.port, ['PING']), `redis-server on port ${this.port}`);
  }

  /** Kills the process (SIGKILL: a crash, nothing flushed or announced) and waits until it has exited. */
  async kill(): Promise<void> {
    const stopping = this.child;
    this.child = null;
    if (!stopping || stopping.exitCode !== null || stopping.signalCode !== null) return;
    const exited = new Promise((resolve) => stopping.once('exit', resolve));
    stopping.kill('SIGKILL');
    await exited;
  }

  /** Kills the process without waiting. Synchronous, for a process `exit` handler. */
  killNow(): void {
    this.child?.kill('SIGKILL');
    this.child = null;
  }
}

/** A Redis Cluster of the tests' own; see {@link startRedisCluster}. */
export class OwnRedisCluster {
  private readonly onExit = () => this.destroy();

  private constructor(
    private readonly clusterNodes: ClusterNode[],
    private readonly dir: string,
    private readonly cli: string,
  ) {
    process.once('exit', this.onExit);
  }

  /** Starts the processes and creates the cluster; see {@link startRedisCluster}. */
  static async start(options: RedisClusterOptions = {}): Promise<OwnRedisCluster> {
    const { masters = 3, replicasPerMaster = 1, nodeTimeoutMs = 2_000 } = options;
    if (masters < 3) throw new Error(`A Redis Cluster needs at least 3 masters, not ${masters}.`);
    const { server, cli } = clusterPrograms();
    const count = masters * (1 + replicasPerMaster);
    const ports = await freePorts(2 * count);
    const dir = mkdtempSync(join(tmpdir(), 'metronome-redis-cluster-'));
    const nodes = Array.from({ length: count }, (_, i) => {
      const nodeDir = join(dir, String(ports[i]));
      mkdirSync(nodeDir);
      return new ClusterNode(ports[i]!, ports[count + i]!, nodeDir, server, nodeTimeoutMs);
    });
    const cluster = new OwnRedisCluster(nodes, dir, cli);
    try {
      await Promise.all(nodes.map((node) => node.start()));
      await cluster.create(replicasPerMaster);
      await cluster.settle({ masters, replicasPerMaster });
      await cluster.checkClient();
      return cluster;
    } catch (error) {
      cluster.destroy();
      throw error;
    }
  }

  /**
   * Every node it started, as startup nodes for an ioredis `Cluster`: those stopped by
   * {@link failover} stay listed (a client skips the ones that refuse it).
   */
  get nodes(): ClusterNodeAddress[] {
    return this.clusterNodes.map((node) => node.address);
  }

  /** The nodes whose process runs. */
  running(): ClusterNodeAddress[] {
    return this.clusterNodes.filter((node) => node.running).map((node) => node.address);
  }

  /** The masters that serve slots now, lowest slots first, as a running node sees them (`CLUSTER NODES`). */
  async masters(): Promise<ClusterMaster[]> {
    let lastError: unknown;
    for (const node of this.clusterNodes.filter((candidate) => candidate.running)) {
      try {
        return mastersOf(parseClusterNodes(await query(node.port, ['CLUSTER', 'NODES'])), this.runningPorts());
      } catch (error) {
        lastError = error;
      }
    }
    throw new Error(`No node of the cluster answered CLUSTER NODES: ${String(lastError)}`, { cause: lastError });
  }

  /**
   * Crashes a master (SIGKILL) and waits until one of its replicas has taken over its slots, and
   * every node still running says `cluster_state:ok` and sees the same cluster. `port` is the
   * master's; by default the first master, by slot, that has a replica up.
   */
  async failover(port?: number): Promise<Failover> {
    const masters = await this.masters();
    const master = port === undefined ? masters.find((candidate) => candidate.replicas.length > 0) : masters.find((candidate) => candidate.port === port);
    if (!master) throw new Error(port === undefined ? 'No master has a replica up to take over.' : `Port ${port} is not a master of the cluster.`);
    if (master.replicas.length === 0) throw new Error(`The master on port ${master.port} has no replica up to take over.`);
    await this.node(master.port).kill();
    await this.settle();
    const firstSlot = master.slots[0]![0];
    const promoted = (await this.masters()).find((candidate) => candidate.slots.some(([from, to]) => from <= firstSlot && firstSlot <= to));
    if (!promoted || !master.replicas.includes(promoted.port)) {
      throw new Error(`Slot ${firstSlot} of the stopped master ${master.port} went to ${promoted?.port ?? 'no node'}, not to one of its replicas.`);
    }
    return { stopped: master.port, promoted: promoted.port };
  }

  /**
   * Starts a node that {@link failover} stopped and waits until it is back in the cluster and the
   * cluster has settled: a master that was failed over comes back as a replica of the node that
   * took over, and copies its data (it kept none).
   */
  async restart(port: number): Promise<void> {
    const node = this.node(port);
    if (node.running) throw new Error(`The node on port ${port} runs already.`);
    await node.start();
    await this.settle();
  }

  /** Stops every node and removes their folders. */
  async stop(): Promise<void> {
    await Promise.all(this.clusterNodes.map((node) => node.kill()));
    this.destroy();
  }

  /** Kills every node without waiting and removes their folders. Synchronous, for a process `exit` handler. */
  destroy(): void {
    for (const node of this.clusterNodes) node.killNow();
    rmSync(this.dir, { recursive: true, force: true });
    process.off('exit', this.onExit);
  }

  private node(port: number): ClusterNode {
    const node = this.clusterNodes.find((candidate) => candidate.port === port);
    if (!node) throw new Error(`No node of the cluster listens on port ${port}.`);
    return node;
  }

  private runningPorts(): Set<number> {
    return new Set(this.clusterNodes.filter((node) => node.running).map((node) => node.port));
  }

  /** Joins the nodes and shares the slots among the first of them; the others become their replicas. */
  private async create(replicasPerMaster: number): Promise<void> {
    const addresses = this.clusterNodes.map((node) => `127.0.0.1:${node.port}`);
    await run(this.cli, ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'], SETTLE_TIMEOUT_MS);
  }

  /** Waits until every running node says the cluster is ok and sees the same cluster (and, if given, the expected one). */
  private async settle(expected: Expectation = {}): Promise<void> {
    await until(() => this.checkSettled(expected), 'the Redis Cluster settled', SETTLE_TIMEOUT_MS);
  }

  /** Throws, saying why, unless every running node agrees that the cluster is whole and sound. */
  private async checkSettled(expected: Expectation): Promise<void> {
    const running = this.runningPorts();
    const views = await Promise.all([...running].map(async (port) => ({ port, ...(await nodeState(port)) })));
    let agreed: string | undefined;
    for (const { port, info, nodes, replication } of views) {
      for (const field of ['cluster_state:ok', `cluster_slots_assigned:${CLUSTER_SLOTS}`, `cluster_slots_ok:${CLUSTER_SLOTS}`]) {
        if (!info.includes(field)) throw new Error(`node ${port}: no ${field} in CLUSTER INFO`);
      }
      if (/^role:slave$/m.test(replication) && !/^master_link_status:up$/m.test(replication)) {
        throw new Error(`replica ${port}: its link to its master is not up`);
      }
      const view = parseClusterNodes(nodes);
      checkFlags(port, view, running);
      const shape = describeView(view, running);
      if (agreed !== undefined && shape !== agreed) throw new Error(`node ${port} sees ${shape}, another node ${agreed}`);
      agreed = shape;
      if (expected.masters !== undefined) checkShape(port, mastersOf(view, running), expected);
    }
  }

  /** Throws unless an ioredis `Cluster` client can write and read a key in each master's slots. */
  private async checkClient(): Promise<void> {
    const client = new Cluster(this.nodes, { enableOfflineQueue: true, clusterRetryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      for (const master of await this.masters()) {
        const key = keyInSlot(master.slots[0]![0], 'metronome-cluster-check');
        await client.set(key, String(master.port));
        const value = await client.get(key);
        if (value !== String(master.port)) throw new Error(`Read ${String(value)} back from ${key} on ${master.port}, not what was written.`);
        await client.del(key);
      }
    } finally {
      client.disconnect();
    }
  }
}

/**
 * Starts a Redis Cluster of the tests' own: `masters` masters sharing the slots, each with
 * `replicasPerMaster` replicas, every node on a free port of 127.0.0.1. Resolves once every node
 * says `cluster_state:ok`, all see the same cluster, every replica has copied its master and an
 * ioredis `Cluster` client can write in each master's slots. Call `stop()` when done; the
 * processes are also killed when the process exits.
 */
export function startRedisCluster(options: RedisClusterOptions = {}): Promise<OwnRedisCluster> {
  return OwnRedisCluster.start(options);
}

/**
 * The hash slot of a key, as Redis Cluster computes it: CRC16 (XMODEM) of the key's bytes, or of
 * its hash tag (what is between the first `{` and the next `}`, if not empty), modulo 16,384.
 */
export function keySlot(key: string | Buffer): number {
  const bytes = typeof key === 'string' ? Buffer.from(key) : key;
  const open = bytes.indexOf(0x7b);
  const close = open === -1 ? -1 : bytes.indexOf(0x7d, open + 1);
  const hashed = close > open + 1 ? bytes.subarray(open + 1, close) : bytes;
  return crc16(hashed) % CLUSTER_SLOTS;
}

/** A key `<prefix>:<n>` whose slot is `slot`. */
export function keyInSlot(slot: number, prefix = 'key'): string {
  for (let n = 0; ; n++) {
    const key = `${prefix}:${n}`;
    if (keySlot(key) === slot) return key;
  }
}

const CRC16_TABLE = Uint16Array.from({ length: 256 }, (_, byte) => {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
  return crc & 0xffff;
});

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

/** redis-server and redis-cli, checked to be recent enough for the cluster this harness makes. */
function clusterPrograms(): { server: string; cli: string } {
  const server = findRedisServer();
  const cli = findRedisCli();
  if (!server || !cli) throw new Error(`A Redis Cluster needs redis-server and redis-cli (looked in ${REDIS_LOOKUP}).`);
  const version = execFileSync(server, ['--version']).toString();
  const [major = 0, minor = 0] = (/v=(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number);
  if (major < MIN_REDIS_VERSION[0] || (major === MIN_REDIS_VERSION[0] && minor < MIN_REDIS_VERSION[1])) {
    throw new Error(`A Redis Cluster of the tests' own needs redis-server ${MIN_REDIS_VERSION.join('.')} or later; ${server} says: ${version.trim()}`);
  }
  // It prints its help on standard error and exits with 1.
  const help = spawnSync(cli, ['--cluster', 'help'], { encoding: 'utf8' });
  if (!`${help.stdout}${help.stderr}`.includes('create')) {
    throw new Error(`${cli} has no \`--cluster create\`.`);
  }
  return { server, cli };
}

/** `count` distinct free ports. */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** Runs a program to its end; rejects with what it printed if it fails. */
function run(program: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(program, args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${program} ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`, { cause: error }));
      else resolve(stdout);
    });
  });
}

/** Sends one command to the node on `port`, on a connection of its own that does not retry. */
async function query(port: number, command: string[]): Promise<string> {
  return (await queryAll(port, [command]))[0]!;
}

/** Sends commands to the node on `port`, one after the other on one connection, and returns their replies. */
async function queryAll(port: number, commands: string[][]): Promise<string[]> {
  const redis = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const replies: string[] = [];
    for (const [name, ...args] of commands) replies.push(String(await redis.call(name!, ...args)));
    return replies;
  } finally {
    close(redis);
  }
}

/**
 * Closes a connection. One that has ended already (refused, say) is left alone: disconnecting it
 * again would start a 2 s timer that keeps the process alive.
 */
export function close(redis: Redis): void {
  if (redis.status !== 'end') redis.disconnect();
}

/** What a node says about the cluster and its own replication. */
async function nodeState(port: number): Promise<{ info: string; nodes: string; replication: string }> {
  const [info, nodes, replication] = await queryAll(port, [
    ['CLUSTER', 'INFO'],
    ['CLUSTER', 'NODES'],
    ['INFO', 'replication'],
  ]);
  return { info: info!, nodes: nodes!, replication: replication! };
}

/** The lines of `CLUSTER NODES`. */
function parseClusterNodes(text: string): NodeView[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [id, address, flags, master, , , , , ...slots] = line.split(' ');
      const port = /:(\d+)@/.exec(address ?? '')?.[1];
      if (!id || !port || !flags || !master) throw new Error(`Cannot read this line of CLUSTER NODES: ${line}`);
      return {
        id,
        port: Number(port),
        flags: flags.split(','),
        masterId: master === '-' ? null : master,
        // "[slot->-id]" and "[slot-<-id]" are slots being moved: the node does not serve them yet.
        slots: slots
          .filter((slot) => !slot.startsWith('['))
          .map((slot) => slot.split('-').map(Number) as [number, number?])
          .map(([from, to]) => [from, to ?? from]),
      };
    });
}

/** The masters serving slots in one node's view, with their replicas that run, lowest slots first. */
function mastersOf(view: NodeView[], running: Set<number>): ClusterMaster[] {
  return view
    .filter((node) => node.flags.includes('master') && node.slots.length > 0)
    .map((node) => ({
      host: '127.0.0.1' as const,
      port: node.port,
      id: node.id,
      slots: [...node.slots].sort(([a], [b]) => a - b),
      replicas: view
        .filter((other) => other.masterId === node.id && running.has(other.port))
        .map((other) => other.port)
        .sort((a, b) => a - b),
    }))
    .sort((a, b) => a.slots[0]![0] - b.slots[0]![0]);
}

/** Throws unless the node on `port` knows the running nodes as sound and the stopped ones as failed. */
function checkFlags(port: number, view: NodeView[], running: Set<number>): void {
  for (const node of view) {
    const unsure = node.flags.filter((flag) => ['handshake', 'noaddr', 'fail?'].includes(flag));
    if (unsure.length > 0) throw new Error(`node ${port} sees ${node.port} as ${unsure.join(',')}`);
    const failed = node.flags.includes('fail');
    if (running.has(node.port) === failed) {
      throw new Error(`node ${port} sees ${node.port} ${failed ? 'failed though it runs' : 'sound though it was stopped'}`);
    }
  }
}

/** One node's view of who serves which slots and who replicates whom, in a form to compare with another node's. */
function describeView(view: NodeView[], running: Set<number>): string {
  const byId = new Map(view.map((node) => [node.id, node.port]));
  return view
    .filter((node) => running.has(node.port))
    .map((node) => `${node.port}: ${node.masterId ? `replica of ${byId.get(node.masterId)}` : `master of ${formatSlots(node.slots)}`}`)
    .sort()
    .join(' ');
}

/** Slot ranges as `0-5460,5461-10922`. */
function formatSlots(slots: Array<[from: number, to: number]>): string {
  return slots.map(([from, to]) => `${from}-${to}`).join(',');
}

/** Throws unless the masters are as many as expected, each with as many replicas as expected. */
function checkShape(port: number, masters: ClusterMaster[], expected: Expectation): void {
  if (masters.length !== expected.masters) throw new Error(`node ${port} sees ${masters.length} masters, not ${expected.masters}`);
  const short = masters.find((master) => master.replicas.length !== expected.replicasPerMaster);
  if (short) throw new Error(`node ${port} sees ${short.replicas.length} replicas of ${short.port}, not ${expected.replicasPerMaster}`);
}
