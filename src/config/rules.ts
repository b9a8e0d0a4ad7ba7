// What a setting's value may be, checked by hand: a schema library (zod) cost the manager about
// 8 MB of memory and more than half the time it takes to load its modules, for the two dozen plain
// values of the settings table. A rule only checks (no setting's value is transformed) and says
// what is wrong in hypnode's words.

/** What is wrong with a value: where inside it (a list's index, a map's key), and in words. */
export interface Problem {
  at: (string | number)[];
  words: string;
  /** The value is of another JavaScript type than the rule takes (an either-rule tries the next). */
  wrongType: boolean;
}

export interface Rule<T> {
  /** null when `value` is a valid T. */
  problem(value: unknown): Problem | null;
  /** The type the rule takes, as an error says it ("a number"). */
  readonly expects: string;
  /** Only for the type: the value a rule accepts. */
  readonly type?: T;
}

export type RuleType<R> = R extends Rule<infer T> ? T : never;

const wrong = (expects: string): Problem => ({ at: [], words: `expected ${expects}`, wrongType: true });
const bad = (words: string): Problem => ({ at: [], words, wrongType: false });

interface NumberBounds {
  whole?: boolean;
  min?: number;
  /** Exclusive lower bound. */
  above?: number;
  max?: number;
}

export function number({ whole = false, min, above, max }: NumberBounds = {}): Rule<number> {
  return {
    expects: 'a number',
    problem(v) {
      if (typeof v !== 'number' || !Number.isFinite(v)) return wrong('a number');
      if (whole && !Number.isInteger(v)) return wrong('a whole number');
      if (min !== undefined && v < min) return bad(`must be at least ${min}`);
      if (above !== undefined && v <= above) return bad(`must be more than ${above}`);
      if (max !== undefined && v > max) return bad(`must be at most ${max}`);
      return null;
    },
  };
}

interface StringShape {
  nonEmpty?: boolean;
  /** The pattern and what it means, for the error. */
  pattern?: [RegExp, string];
  /** A further check, and what it means. */
  also?: [(v: string) => boolean, string];
}

export function string({ nonEmpty = false, pattern, also }: StringShape = {}): Rule<string> {
  return {
    expects: 'a string',
    problem(v) {
      if (typeof v !== 'string') return wrong('a string');
      if (nonEmpty && v === '') return bad('must not be empty');
      if (pattern && !pattern[0].test(v)) return bad(pattern[1]);
      if (also && !also[0](v)) return bad(also[1]);
      return null;
    },
  };
}

export function oneOf<const T extends string>(values: readonly T[]): Rule<T> {
  const expects = values.map((v) => JSON.stringify(v)).join(' or ');
  return {
    expects,
    problem: (v) => (values.includes(v as T) ? null : wrong(expects)),
  };
}

export const boolean: Rule<boolean> = {
  expects: 'true or false',
  problem: (v) => (typeof v === 'boolean' ? null : wrong('true or false')),
};

export function nullable<T>(rule: Rule<T>): Rule<T | null> {
  return { expects: rule.expects, problem: (v) => (v === null ? null : rule.problem(v)) };
}

/** A value either rule takes: the error is that of the rule that takes the value's type. */
export function either<A, B>(a: Rule<A>, b: Rule<B>): Rule<A | B> {
  const expects = `${a.expects} or ${b.expects}`;
  return {
    expects,
    problem(v) {
      const [pa, pb] = [a.problem(v), b.problem(v)];
      if (!pa || !pb) return null;
      if (pa.wrongType && pb.wrongType) return wrong(expects);
      return pa.wrongType ? pb : pa;
    },
  };
}

function inside(key: string | number, p: Problem | null): Problem | null {
  return p && { ...p, at: [key, ...p.at] };
}

export function list<T>(item: Rule<T>): Rule<T[]> {
  return {
    expects: 'a list',
    problem(v) {
      if (!Array.isArray(v)) return wrong('a list');
      for (const [i, x] of v.entries()) {
        const p = inside(i, item.problem(x));
        if (p) return p;
      }
      return null;
    },
  };
}

/** An object of string keys to values the rule takes (the workers' environment). */
export function map<T>(value: Rule<T>): Rule<Record<string, T>> {
  return {
    expects: 'an object',
    problem(v) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return wrong('an object');
      for (const [k, x] of Object.entries(v)) {
        const p = inside(k, value.problem(x));
        if (p) return p;
      }
      return null;
    },
  };
}

/** The one line for a bad value: where it came from, where inside it, what is wrong, and (unless it may hold a secret) the value. */
export function describeProblem(where: string, p: Problem, value: unknown, quote: boolean): string {
  const at = p.at.length ? ` at ${p.at.map(String).join('.')}` : '';
  return `${where}${at}: ${p.words}${quote ? ` (got ${JSON.stringify(value)})` : ''}`;
}
