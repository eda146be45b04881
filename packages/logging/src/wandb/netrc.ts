/** One `machine` (or `default`) entry of a `.netrc` file. */
export interface NetrcEntry {
  machine: string | null;
  login?: string;
  password?: string;
  account?: string;
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const line of text.split(/\r?\n/)) {
    if (line.trimStart().startsWith('#')) continue;
    let m: RegExpExecArray | null;
    re.lastIndex = 0;
    while ((m = re.exec(line)) !== null) {
      tokens.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] as string));
    }
    tokens.push('\n');
  }
  return tokens;
}

/**
 * Parses a `.netrc` file: `machine`, `default`, `login`, `password`, `account` and `macdef`
 * (whose body, up to the next blank line, is skipped). Unknown tokens are ignored.
 */
export function parseNetrc(text: string): NetrcEntry[] {
  const tokens = tokenize(text);
  const entries: NetrcEntry[] = [];
  let cur: NetrcEntry | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as string;
    const next = (): string | undefined => {
      while (tokens[i + 1] === '\n') i++;
      i++;
      return tokens[i];
    };
    switch (t) {
      case '\n':
        break;
      case 'machine':
        cur = { machine: next() ?? '' };
        entries.push(cur);
        break;
      case 'default':
        cur = { machine: null };
        entries.push(cur);
        break;
      case 'login':
      case 'password':
      case 'account': {
        const v = next();
        if (cur !== undefined && v !== undefined) cur[t] = v;
        break;
      }
      case 'macdef': {
        while (i < tokens.length && tokens[i] !== '\n') i++;
        while (i + 1 < tokens.length && !(tokens[i] === '\n' && tokens[i + 1] === '\n')) i++;
        break;
      }
      default:
        break;
    }
  }
  return entries;
}

/**
 * The password `.netrc` holds for `host` (tried as given, e.g. `host:port`, then without the
 * port), falling back to a `default` entry.
 */
export function netrcPassword(text: string, host: string): string | undefined {
  const entries = parseNetrc(text);
  const bare = host.replace(/:\d+$/, '');
  for (const name of [host, bare]) {
    const e = entries.find((x) => x.machine === name && x.password !== undefined);
    if (e !== undefined) return e.password;
  }
  return entries.find((x) => x.machine === null && x.password !== undefined)?.password;
}
