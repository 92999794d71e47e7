/**
 * Environment specifications on the client: parse and validate the YAML before anything is
 * submitted (the same rules as the server's spec.py, with line numbers), and convert between
 * the YAML text and the form view's model without losing what the form does not show.
 */
import { Document, LineCounter, Node, isMap, isScalar, parseDocument, visit } from 'yaml';

import type { IEnvironmentSpec, ILockfileSpec } from './models';

/** The top-level keys the server accepts in an environment specification. */
export const SPEC_KEYS = ['name', 'channels', 'dependencies', 'variables', 'prefix', 'description'];

/** The keys the form view edits; others (e.g. `prefix`) are kept as they are. */
const FORM_KEYS = ['name', 'description', 'channels', 'dependencies', 'variables'];

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const ENV_VAR_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** `[channel::]name`, then the rest (version, build) after optional spaces. */
const DEPENDENCY_RE = /^((?:[^\s:=<>!~*[\]]+::)?[A-Za-z0-9_][A-Za-z0-9_.+-]*)(\s*)([\s\S]*)$/;
const PIP_RE = /^[A-Za-z0-9]/;

/** A conda dependency in the form: `name` and its constraint (version, build). */
export interface IDependency {
  name: string;
  constraint: string;
  /** What separated them in the text (`''` for `numpy>=1`, `' '` for `python 3.11`). */
  sep?: string;
}

export interface IVariable {
  name: string;
  value: string;
}

/** The form view's model of a specification. */
export interface ISpecForm {
  name: string;
  description?: string;
  channels: string[];
  dependencies: IDependency[];
  pip: string[];
  variables: IVariable[];
  /** Top-level keys the form does not edit, kept as they are. */
  extra: Record<string, unknown>;
}

export interface ISpecIssue {
  severity: 'error' | 'warning';
  message: string;
  /** 1-based line and column in the text, when known. */
  line?: number;
  column?: number;
}

export interface IParsedSpec {
  /** A conda environment YAML or a conda-lock file. */
  kind: 'environment' | 'lockfile';
  /** The form model (environment specifications without errors in their shape only). */
  form: ISpecForm | null;
  issues: ISpecIssue[];
  /** True when there is no error (warnings allowed): the text may be submitted. */
  valid: boolean;
}

export interface IParseOptions {
  /** The environment the text is for: a different `name:` gets a warning. */
  environmentName?: string;
}

// -------------------------------------------------------------------------------------------
// Dependencies

export function parseDependency(entry: string): IDependency {
  const text = entry.trim();
  const match = DEPENDENCY_RE.exec(text);
  if (!match) {
    return { name: text, constraint: '', sep: '' };
  }
  return { name: match[1], constraint: match[3].trim(), sep: match[2] ? ' ' : '' };
}

export function formatDependency(dependency: IDependency): string {
  const name = dependency.name.trim();
  const constraint = dependency.constraint.trim();
  if (!constraint) {
    return name;
  }
  // `numpy>=1.2`, `python=3.11`, `numpy[build=...]` may join; `python 3.11` needs the space.
  const joins = /^[=<>!~[]/.test(constraint);
  const sep = joins ? (dependency.sep ?? '') : ' ';
  return `${name}${sep}${constraint}`;
}

/** What is wrong with a conda dependency string, or null. */
export function checkDependency(entry: string): string | null {
  const text = entry.trim();
  if (!text) {
    return 'is empty';
  }
  const match = DEPENDENCY_RE.exec(text);
  if (!match) {
    return `'${text}' does not start with a package name`;
  }
  const rest = match[3];
  if (/^[^\s=<>!~*[\d]/.test(rest) && !match[2]) {
    return `'${text}' is not a valid package spec`;
  }
  return null;
}

/** What is wrong with a pip requirement string, or null. */
export function checkPipRequirement(entry: string): string | null {
  const text = entry.trim();
  if (!text) {
    return 'is empty';
  }
  if (!PIP_RE.test(text)) {
    return `'${text}' is not a pip requirement: it must start with a package name (options such as -e or --index-url are not supported)`;
  }
  return null;
}

/** What is wrong with an environment or namespace name, or null. */
export function checkName(kind: string, name: unknown): string | null {
  if (typeof name !== 'string') {
    return `${kind} name must be text`;
  }
  if (!name) {
    return `${kind} name must not be empty`;
  }
  if (name.length > 128) {
    return `${kind} name has ${name.length} characters; at most 128 are allowed`;
  }
  if (/^[.-]/.test(name)) {
    return `${kind} name must not start with '.' or '-'`;
  }
  if (!NAME_RE.test(name)) {
    const bad = Array.from(new Set(Array.from(name).filter(c => !/[A-Za-z0-9._-]/.test(c))));
    return `${kind} name may only contain letters, digits, '.', '_' and '-', not ${bad
      .map(c => (c === ' ' ? 'spaces' : `'${c}'`))
      .join(', ')}`;
  }
  return null;
}

// -------------------------------------------------------------------------------------------
// Parsing and validation

function typeName(value: unknown): string {
  if (value === null || value === undefined) {
    return 'nothing';
  }
  if (Array.isArray(value)) {
    return 'a list';
  }
  if (typeof value === 'object') {
    return 'a mapping';
  }
  if (typeof value === 'string') {
    return 'text';
  }
  return `a ${typeof value}`;
}

class Checker {
  readonly issues: ISpecIssue[] = [];
  constructor(
    private readonly _doc: Document,
    private readonly _lines: LineCounter
  ) {}

  error(message: string, path: Array<string | number> = []): void {
    this._add('error', message, path);
  }

  warning(message: string, path: Array<string | number> = []): void {
    this._add('warning', message, path);
  }

  private _add(
    severity: ISpecIssue['severity'],
    message: string,
    path: Array<string | number>
  ): void {
    const issue: ISpecIssue = { severity, message };
    const node = path.length ? this._find(path) : null;
    if (node?.range) {
      const pos = this._lines.linePos(node.range[0]);
      issue.line = pos.line;
      issue.column = pos.col;
    }
    this.issues.push(issue);
  }

  /** The node at `path`, or for a missing key its mapping's pair key. */
  private _find(path: Array<string | number>): Node | null {
    const node = this._doc.getIn(path, true) as Node | undefined;
    if (node && typeof node === 'object' && 'range' in node) {
      return node;
    }
    if (path.length === 1 && isMap(this._doc.contents)) {
      const pair = this._doc.contents.items.find(
        p => isScalar(p.key) && p.key.value === path[0]
      );
      if (pair && isScalar(pair.key)) {
        return pair.key;
      }
    }
    return null;
  }
}

/** True for a conda-lock file's content (rather than an environment specification). */
export function isLockfileContent(content: unknown): boolean {
  return (
    typeof content === 'object' &&
    content !== null &&
    !Array.isArray(content) &&
    'package' in content &&
    ('metadata' in content || 'version' in content)
  );
}

/**
 * Parse and validate a specification's text. Errors are what the server would refuse (with
 * the line they are on); warnings are worth knowing but don't stop a build.
 */
export function parseSpec(text: string, options: IParseOptions = {}): IParsedSpec {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const check = new Checker(doc, lines);

  // The first syntax error is the one to fix; the ones after it often follow from it.
  for (const error of doc.errors.slice(0, 1)) {
    const issue: ISpecIssue = {
      severity: 'error',
      message: `Invalid YAML: ${error.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`
    };
    const pos = error.linePos?.[0] ?? lines.linePos(error.pos[0]);
    issue.line = pos.line;
    issue.column = pos.col;
    check.issues.push(issue);
  }
  if (check.issues.length) {
    return { kind: 'environment', form: null, issues: check.issues, valid: false };
  }
  if (hasAlias(doc)) {
    check.error('YAML aliases (*name) are not allowed in a specification');
    return { kind: 'environment', form: null, issues: check.issues, valid: false };
  }

  const content = doc.toJS({ maxAliasCount: -1 }) as unknown;
  if (content === null || content === undefined) {
    check.error('The specification is empty: give at least a name and dependencies.');
    return { kind: 'environment', form: null, issues: check.issues, valid: false };
  }
  if (typeof content !== 'object' || Array.isArray(content)) {
    check.error(
      `A specification must be a mapping (name, channels, dependencies...), not ${typeName(content)}`
    );
    return { kind: 'environment', form: null, issues: check.issues, valid: false };
  }
  if (isLockfileContent(content)) {
    return { kind: 'lockfile', form: null, issues: check.issues, valid: true };
  }

  const spec = content as Record<string, unknown>;
  const unknown = Object.keys(spec).filter(key => !SPEC_KEYS.includes(key));
  for (const key of unknown) {
    check.error(
      `Unknown field '${key}'; the fields of a specification are ${SPEC_KEYS.join(', ')}`,
      [key]
    );
  }

  // name
  if (!('name' in spec)) {
    check.error("The specification needs a 'name'");
  } else {
    const problem = checkName('environment', spec.name);
    if (problem) {
      check.error(problem[0].toUpperCase() + problem.slice(1), ['name']);
    } else if (options.environmentName && spec.name !== options.environmentName) {
      check.warning(
        `name is '${spec.name}' but this is environment '${options.environmentName}': it will be built as '${options.environmentName}'`,
        ['name']
      );
    }
  }
  if (spec.description !== undefined && spec.description !== null) {
    if (typeof spec.description !== 'string') {
      check.error(`description must be text, not ${typeName(spec.description)}`, [
        'description'
      ]);
    }
  }

  // channels
  const channels: string[] = [];
  if (spec.channels !== undefined && spec.channels !== null) {
    if (!Array.isArray(spec.channels)) {
      check.error(`channels must be a list, not ${typeName(spec.channels)}`, ['channels']);
    } else {
      spec.channels.forEach((channel, index) => {
        if (typeof channel !== 'string' || !channel.trim()) {
          check.error(`channels[${index}] must be a channel name or URL`, ['channels', index]);
        } else if (/\s/.test(channel.trim())) {
          check.error(`channel '${channel}' must not contain spaces`, ['channels', index]);
        } else {
          channels.push(channel.trim());
        }
      });
    }
  }

  // dependencies
  const dependencies: IDependency[] = [];
  const pip: string[] = [];
  let pipSections = 0;
  if (spec.dependencies === undefined || spec.dependencies === null) {
    check.warning('There are no dependencies: this builds an empty environment', [
      'dependencies'
    ]);
  } else if (!Array.isArray(spec.dependencies)) {
    check.error(`dependencies must be a list, not ${typeName(spec.dependencies)}`, [
      'dependencies'
    ]);
  } else {
    if (spec.dependencies.length === 0) {
      check.warning('There are no dependencies: this builds an empty environment', [
        'dependencies'
      ]);
    }
    spec.dependencies.forEach((entry, index) => {
      const path = ['dependencies', index];
      if (typeof entry === 'string') {
        const problem = checkDependency(entry);
        if (problem) {
          check.error(`dependencies[${index}] ${problem}`, path);
        } else {
          dependencies.push(parseDependency(entry));
        }
      } else if (
        typeof entry === 'object' &&
        entry !== null &&
        !Array.isArray(entry) &&
        Object.keys(entry).length === 1 &&
        'pip' in entry
      ) {
        pipSections += 1;
        if (pipSections > 1) {
          check.error('Only one pip: section is allowed in dependencies', path);
        }
        const requirements = (entry as { pip: unknown }).pip;
        if (requirements === null || requirements === undefined) {
          return;
        }
        if (!Array.isArray(requirements)) {
          check.error(`pip: must be a list of requirements, not ${typeName(requirements)}`, [
            ...path,
            'pip'
          ]);
          return;
        }
        requirements.forEach((requirement, pipIndex) => {
          const pipPath = [...path, 'pip', pipIndex];
          if (typeof requirement !== 'string') {
            check.error(
              `pip[${pipIndex}] must be a requirement such as 'requests>=2', not ${typeName(requirement)}`,
              pipPath
            );
            return;
          }
          const problem = checkPipRequirement(requirement);
          if (problem) {
            check.error(`pip[${pipIndex}] ${problem}`, pipPath);
          } else {
            pip.push(requirement.trim());
          }
        });
      } else if (typeof entry === 'number') {
        check.error(
          `dependencies[${index}] is the number ${entry}: write the package name (quote versions, e.g. "python=3.10")`,
          path
        );
      } else {
        check.error(
          `dependencies[${index}] must be a package spec (text) or a pip: list, not ${typeName(entry)}`,
          path
        );
      }
    });
  }

  // variables
  const variables: IVariable[] = [];
  if (spec.variables !== undefined && spec.variables !== null) {
    if (typeof spec.variables !== 'object' || Array.isArray(spec.variables)) {
      check.error(
        `variables must be a mapping of names to values, not ${typeName(spec.variables)}`,
        ['variables']
      );
    } else {
      for (const [key, value] of Object.entries(spec.variables as Record<string, unknown>)) {
        if (!ENV_VAR_RE.test(key)) {
          check.error(
            `variables: '${key}' is not a valid environment variable name (letters, digits and '_', not starting with a digit)`,
            ['variables', key]
          );
        } else if (!['string', 'number', 'boolean'].includes(typeof value)) {
          check.error(`variables.${key} must be text, a number or true/false`, [
            'variables',
            key
          ]);
        } else {
          variables.push({ name: key, value: String(value) });
        }
      }
    }
  }

  const valid = !check.issues.some(issue => issue.severity === 'error');
  const extra: Record<string, unknown> = {};
  for (const key of Object.keys(spec)) {
    if (!FORM_KEYS.includes(key)) {
      extra[key] = spec[key];
    }
  }
  const form: ISpecForm | null = valid
    ? {
        name: String(spec.name ?? ''),
        description: typeof spec.description === 'string' ? spec.description : undefined,
        channels,
        dependencies,
        pip,
        variables,
        extra
      }
    : null;
  return { kind: 'environment', form, issues: check.issues, valid };
}

function hasAlias(doc: Document): boolean {
  let found = false;
  visit(doc, {
    Alias() {
      found = true;
      return visit.BREAK;
    }
  });
  return found;
}

// -------------------------------------------------------------------------------------------
// Form ⇄ YAML

/** True when two form models describe the same specification. */
export function sameForm(a: ISpecForm, b: ISpecForm): boolean {
  return JSON.stringify(normalForm(a)) === JSON.stringify(normalForm(b));
}

function normalForm(form: ISpecForm): unknown {
  return {
    name: form.name,
    description: form.description ?? null,
    channels: form.channels.map(c => c.trim()).filter(Boolean),
    dependencies: form.dependencies
      .filter(d => d.name.trim())
      .map(d => formatDependency({ ...d, sep: undefined }).replace(/\s+/g, ' ')),
    pip: form.pip.map(p => p.trim()).filter(Boolean),
    variables: form.variables.filter(v => v.name.trim()).map(v => [v.name.trim(), v.value]),
    extra: form.extra
  };
}

/**
 * The YAML of a form model. Given the text it was edited from, the text is kept as it is
 * when nothing changed, and otherwise edited in place so comments and the keys the form does
 * not show survive. Empty rows of the form are left out.
 */
export function formToYaml(form: ISpecForm, previousText?: string): string {
  if (previousText !== undefined) {
    const previous = parseSpec(previousText);
    if (previous.form && sameForm(previous.form, form)) {
      return previousText;
    }
  }
  let doc: Document | null = null;
  if (previousText !== undefined) {
    const parsed = parseDocument(previousText);
    if (!parsed.errors.length && isMap(parsed.contents)) {
      doc = parsed;
    }
  }
  const channels = form.channels.map(c => c.trim()).filter(Boolean);
  const conda = form.dependencies.filter(d => d.name.trim()).map(formatDependency);
  const pip = form.pip.map(p => p.trim()).filter(Boolean);
  const dependencies: Array<string | { pip: string[] }> = [...conda];
  if (pip.length) {
    dependencies.push({ pip });
  }
  const variables = form.variables.filter(v => v.name.trim());

  if (!doc) {
    const content: Record<string, unknown> = { name: form.name };
    if (form.description !== undefined) {
      content.description = form.description;
    }
    if (channels.length) {
      content.channels = channels;
    }
    content.dependencies = dependencies;
    if (variables.length) {
      content.variables = Object.fromEntries(variables.map(v => [v.name.trim(), v.value]));
    }
    Object.assign(content, form.extra);
    return new Document(content).toString();
  }

  const set = (key: string, value: unknown, keep: boolean) => {
    if (!keep) {
      doc!.delete(key);
      return;
    }
    const current = doc!.get(key, true) as Node | undefined;
    if (
      current &&
      JSON.stringify((current as { toJSON?: () => unknown }).toJSON?.() ?? current) ===
        JSON.stringify(value)
    ) {
      return; // unchanged: keep its formatting and comments
    }
    doc!.set(key, doc!.createNode(value));
  };
  set('name', form.name, true);
  set('description', form.description, form.description !== undefined);
  set('channels', channels, channels.length > 0 || doc.has('channels'));
  set('dependencies', dependencies, true);
  set(
    'variables',
    Object.fromEntries(variables.map(v => [v.name.trim(), v.value])),
    variables.length > 0
  );
  return doc.toString();
}

// -------------------------------------------------------------------------------------------
// Stored specifications and templates

/** The text to edit for a build's stored specification. */
export function storedSpecToYaml(spec: IEnvironmentSpec | ILockfileSpec, isLockfile: boolean): string {
  if (isLockfile && 'lockfile' in spec) {
    return new Document(spec.lockfile).toString();
  }
  const { name, description, channels, dependencies, variables, ...rest } =
    spec as IEnvironmentSpec;
  const ordered: Record<string, unknown> = { name };
  if (description) {
    ordered.description = description;
  }
  if (channels && channels.length) {
    ordered.channels = channels;
  }
  ordered.dependencies = dependencies ?? [];
  if (variables && Object.keys(variables).length) {
    ordered.variables = variables;
  }
  Object.assign(ordered, rest);
  return new Document(ordered).toString();
}

export type TemplateId = 'python' | 'blank';

export const TEMPLATES: Record<TemplateId, { label: string; description: string }> = {
  python: {
    label: 'Python with ipykernel',
    description: 'python and ipykernel: usable from notebooks and consoles right away'
  },
  blank: {
    label: 'Blank',
    description: 'an empty list of dependencies to fill in'
  }
};

export function templateText(template: TemplateId, name: string): string {
  const dependencies = template === 'python' ? ['python', 'ipykernel'] : [];
  return new Document({ name, dependencies }).toString();
}

/** Replace the `name:` of a specification's text (e.g. an uploaded file), keeping the rest. */
export function withName(text: string, name: string): string {
  const doc = parseDocument(text);
  if (doc.errors.length || !isMap(doc.contents) || isLockfileContent(doc.toJS())) {
    return text;
  }
  if (doc.get('name') === name) {
    return text;
  }
  doc.set('name', name);
  return doc.toString();
}
