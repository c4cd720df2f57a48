/** The samples of a scrape in Prometheus's text format, by `name{label="value",...}` with the labels sorted. */
export type Samples = Map<string, number>;

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses the text format; throws on a line it cannot read. */
export function parseSamples(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels = [...(match[2] ?? '').matchAll(LABEL)].map(([, name, value]) => [name, value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))]);
    samples.set(key(match[1], Object.fromEntries(labels)), Number(match[3]));
  }
  return samples;
}

/** The key of a sample in {@link Samples}. */
export function key(name: string, labels: Record<string, string> = {}): string {
  const sorted = Object.keys(labels)
    .sort()
    .map((label) => `${label}=${JSON.stringify(labels[label])}`);
  return `${name}{${sorted.join(',')}}`;
}

/** The value of one sample, or `undefined` when the scrape does not have it. */
export function sample(samples: Samples, name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.get(key(name, labels));
}

/** Every sample of a metric, by its labels' key. */
export function series(samples: Samples, name: string): Record<string, number> {
  return Object.fromEntries([...samples].filter(([k]) => k.startsWith(`${name}{`)).map(([k, value]) => [k.slice(name.length), value]));
}
