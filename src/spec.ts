/**
 * Environment specifications on the client, structure only: read the YAML text into the form
 * view's rows and write the rows back, without losing what the form does not show. Whether a
 * specification is valid is the server's call (the validate route, see validation.ts).
 */
import { Document, Node, isMap, parseDocument, visit } from 'yaml';

import type { IEnvironmentSpec, ILockfileSpec } from './models';

/** The keys the form view edits; others (e.g. `prefix`) are kept as they are. */
const FORM_KEYS = ['name', 'description', 'channels', 'dependencies', 'variables'];

/** `[channel::]name`, then the rest (version, build) after optional spaces. */
const DEPENDENCY_RE = /^((?:[^\s:=<>!~*[\]]+::)?[A-Za-z0-9_][A-Za-z0-9_.+-]*)(\s*)([\s\S]*)$/;

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

/** The text read for the form view. */
export interface ISpecStructure {
  /** False when the text is not YAML at all (the server says what is wrong and where). */
  parses: boolean;
  /** A conda environment YAML or a conda-lock file. */
  kind: 'environment' | 'lockfile';
  /** The rows of the form, or null when the text has a shape the form cannot show. */
  form: ISpecForm | null;
  /** Why the form cannot show the text, when it cannot. */
  reason: string;
}

// -------------------------------------------------------------------------------------------
// Dependencies

/** Split a dependency into the form's two columns (no judgement: the server checks it). */
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

// -------------------------------------------------------------------------------------------
// YAML → form

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

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every(item => typeof item === 'string');
}

/** The form's dependency rows and pip rows, or the reason the form cannot show them. */
function readDependencies(value: unknown): [IDependency[], string[]] | string {
  if (value === undefined || value === null) {
    return [[], []];
  }
  if (!Array.isArray(value)) {
    return 'dependencies';
  }
  const dependencies: IDependency[] = [];
  let pip: string[] | null = null;
  for (const entry of value) {
    if (typeof entry === 'string') {
      dependencies.push(parseDependency(entry));
    } else if (isMapping(entry) && Object.keys(entry).length === 1 && 'pip' in entry && !pip) {
      const requirements = entry.pip ?? [];
      if (!isStringList(requirements)) {
        return 'pip';
      }
      pip = requirements.map(r => r.trim());
    } else {
      return 'dependencies';
    }
  }
  return [dependencies, pip ?? []];
}

/**
 * Read a specification's text into the form's rows. The form shows what it can hold (text,
 * lists of text, one pip list, scalar variables); anything else stays editable as YAML.
 */
export function readSpec(text: string): ISpecStructure {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  const none = (reason: string, kind: ISpecStructure['kind'] = 'environment') => ({
    parses: true,
    kind,
    form: null,
    reason
  });
  if (doc.errors.length) {
    return { ...none('The YAML does not parse: fix it to use the form.'), parses: false };
  }
  if (hasAlias(doc)) {
    return none('The form cannot show YAML aliases (*name): edit it as YAML.');
  }
  const content = doc.toJS() as unknown;
  if (isLockfileContent(content)) {
    return none('A conda-lock file is installed exactly as locked: edit it as YAML.', 'lockfile');
  }
  if (!isMapping(content)) {
    return none('The form shows a mapping of name, channels, dependencies…: edit it as YAML.');
  }
  const cannot = (field: string) => none(`The form cannot show this ${field}: edit it as YAML.`);
  const { name, description, channels, variables } = content;
  if (name !== undefined && name !== null && typeof name !== 'string') {
    return cannot('name');
  }
  if (description !== undefined && description !== null && typeof description !== 'string') {
    return cannot('description');
  }
  if (channels !== undefined && channels !== null && !isStringList(channels)) {
    return cannot('channels list');
  }
  const read = readDependencies(content.dependencies);
  if (typeof read === 'string') {
    return cannot(`${read} list`);
  }
  const rows: IVariable[] = [];
  if (variables !== undefined && variables !== null) {
    if (!isMapping(variables)) {
      return cannot('variables');
    }
    for (const [key, value] of Object.entries(variables)) {
      if (!['string', 'number', 'boolean'].includes(typeof value)) {
        return cannot('variables');
      }
      rows.push({ name: key, value: String(value) });
    }
  }
  const extra: Record<string, unknown> = {};
  for (const key of Object.keys(content)) {
    if (!FORM_KEYS.includes(key)) {
      extra[key] = content[key];
    }
  }
  const form: ISpecForm = {
    name: (name as string | null) ?? '',
    description: (description as string | null) ?? undefined,
    channels: ((channels as string[] | null) ?? []).map(c => c.trim()),
    dependencies: read[0],
    pip: read[1],
    variables: rows,
    extra
  };
  return { parses: true, kind: 'environment', form, reason: '' };
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
    const previous = readSpec(previousText);
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
export function storedSpecToYaml(
  spec: IEnvironmentSpec | ILockfileSpec,
  isLockfile: boolean
): string {
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
