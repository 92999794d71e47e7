/**
 * The specification form's round trip: YAML → form model → YAML keeps channels, dependencies
 * with their constraints, pip and variables; keys the form does not edit are kept; errors are
 * reported with their line before anything is submitted.
 */
import { parse } from 'yaml';

import {
  ISpecForm,
  checkName,
  formToYaml,
  formatDependency,
  parseDependency,
  parseSpec,
  storedSpecToYaml,
  templateText,
  withName
} from '../spec';

const FULL = `# my analysis environment
name: demo
description: data work
channels:
  - conda-forge
  - file:///srv/channel
dependencies:
  - python=3.11
  - numpy >=1.20,<2
  - conda-forge::pandas
  - alpha>=1.1,<2
  - gamma 3.0 *_0
  - pip:
      - requests>=2.31
      - rich
variables:
  MY_FLAG: "1"
  OTHER: text
prefix: /opt/demo
`;

function form(text: string): ISpecForm {
  const parsed = parseSpec(text);
  expect(parsed.issues.filter(i => i.severity === 'error')).toEqual([]);
  expect(parsed.form).not.toBeNull();
  return parsed.form!;
}

describe('dependencies', () => {
  it.each([
    ['numpy', 'numpy', ''],
    ['numpy>=1.20,<2', 'numpy', '>=1.20,<2'],
    ['numpy >=1.20,<2', 'numpy', '>=1.20,<2'],
    ['python=3.11', 'python', '=3.11'],
    ['python 3.11 *_cpython', 'python', '3.11 *_cpython'],
    ['conda-forge::pandas>=2', 'conda-forge::pandas', '>=2'],
    ["numpy[version='>=1.2']", 'numpy', "[version='>=1.2']"],
    ['scikit-learn', 'scikit-learn', '']
  ])('parses %s', (entry, name, constraint) => {
    const dependency = parseDependency(entry);
    expect(dependency.name).toBe(name);
    expect(dependency.constraint).toBe(constraint);
    expect(formatDependency(dependency)).toBe(entry);
  });

  it('formats new dependencies readably', () => {
    expect(formatDependency({ name: 'numpy', constraint: '>=1.2' })).toBe('numpy>=1.2');
    expect(formatDependency({ name: 'python', constraint: '3.11' })).toBe('python 3.11');
    expect(formatDependency({ name: ' beta ', constraint: '' })).toBe('beta');
  });
});

describe('round trip YAML → form → YAML', () => {
  it('reads channels, dependencies with constraints, pip, variables and keeps other keys', () => {
    const model = form(FULL);
    expect(model.name).toBe('demo');
    expect(model.description).toBe('data work');
    expect(model.channels).toEqual(['conda-forge', 'file:///srv/channel']);
    expect(model.dependencies.map(d => [d.name, d.constraint])).toEqual([
      ['python', '=3.11'],
      ['numpy', '>=1.20,<2'],
      ['conda-forge::pandas', ''],
      ['alpha', '>=1.1,<2'],
      ['gamma', '3.0 *_0']
    ]);
    expect(model.pip).toEqual(['requests>=2.31', 'rich']);
    expect(model.variables).toEqual([
      { name: 'MY_FLAG', value: '1' },
      { name: 'OTHER', value: 'text' }
    ]);
    expect(model.extra).toEqual({ prefix: '/opt/demo' });
  });

  it('gives back the same text when nothing changed', () => {
    expect(formToYaml(form(FULL), FULL)).toBe(FULL);
  });

  it('edits in place: an added package, comments and unknown-to-the-form keys survive', () => {
    const model = form(FULL);
    model.dependencies.push({ name: 'beta', constraint: '0.5' });
    model.pip = model.pip.filter(p => p !== 'rich');
    const text = formToYaml(model, FULL);
    expect(text).toContain('# my analysis environment');
    const data = parse(text);
    expect(data).toEqual({
      name: 'demo',
      description: 'data work',
      channels: ['conda-forge', 'file:///srv/channel'],
      dependencies: [
        'python=3.11',
        'numpy >=1.20,<2',
        'conda-forge::pandas',
        'alpha>=1.1,<2',
        'gamma 3.0 *_0',
        'beta 0.5',
        { pip: ['requests>=2.31'] }
      ],
      variables: { MY_FLAG: '1', OTHER: 'text' },
      prefix: '/opt/demo'
    });
    // …and reads back to the same model.
    const again = form(text);
    expect(again.dependencies.map(formatDependency)).toEqual(
      model.dependencies.map(formatDependency)
    );
    expect(again.pip).toEqual(['requests>=2.31']);
    expect(again.extra).toEqual({ prefix: '/opt/demo' });
  });

  it('writes a fresh document from a form alone, leaving out empty rows', () => {
    const text = formToYaml({
      name: 'fresh',
      channels: ['conda-forge', ' '],
      dependencies: [
        { name: 'python', constraint: '>=3.10' },
        { name: '', constraint: '1.0' }
      ],
      pip: ['', 'rich'],
      variables: [
        { name: 'A', value: 'x' },
        { name: '', value: 'ignored' }
      ],
      extra: {}
    });
    expect(parse(text)).toEqual({
      name: 'fresh',
      channels: ['conda-forge'],
      dependencies: ['python>=3.10', { pip: ['rich'] }],
      variables: { A: 'x' }
    });
    expect(parseSpec(text).valid).toBe(true);
  });

  it('drops the pip section and variables when the form empties them', () => {
    const model = form(FULL);
    model.pip = [];
    model.variables = [];
    const data = parse(formToYaml(model, FULL));
    expect(data.dependencies).not.toContainEqual(expect.objectContaining({ pip: expect.anything() }));
    expect(data.variables).toBeUndefined();
  });

  it('reads a stored specification back as the same spec', () => {
    const stored = {
      name: 'demo',
      channels: ['file:///c'],
      dependencies: ['alpha>=1.1', { pip: ['rich'] }],
      variables: { A: '1' }
    };
    const text = storedSpecToYaml(stored, false);
    expect(parse(text)).toEqual(stored);
    expect(form(text).pip).toEqual(['rich']);
  });
});

describe('validation before submit', () => {
  it('reports malformed YAML with its line', () => {
    const parsed = parseSpec('name: demo\ndependencies:\n  - python\n  foo: [\n');
    expect(parsed.valid).toBe(false);
    expect(parsed.form).toBeNull();
    expect(parsed.issues[0].severity).toBe('error');
    expect(parsed.issues[0].message).toMatch(/^Invalid YAML/);
    expect(parsed.issues[0].line).toBeGreaterThanOrEqual(3);
  });

  it('refuses duplicate keys and aliases as the server does', () => {
    expect(parseSpec('name: a\nname: b\n').valid).toBe(false);
    const alias = parseSpec('name: a\nchannels: &c [x]\ndependencies: *c\n');
    expect(alias.valid).toBe(false);
    expect(alias.issues[0].message).toMatch(/aliases/);
  });

  it('reports unknown fields (keeping the model for nothing) and names the allowed ones', () => {
    const parsed = parseSpec('name: demo\ndependencies: [python]\nfoo: 1\n');
    expect(parsed.valid).toBe(false);
    expect(parsed.issues).toEqual([
      expect.objectContaining({
        severity: 'error',
        message: expect.stringMatching(/Unknown field 'foo'.*name, channels, dependencies/),
        line: 3
      })
    ]);
  });

  it('checks the name, the dependencies shape and pip', () => {
    const noName = parseSpec('dependencies: [python]\n');
    expect(noName.issues[0].message).toMatch(/needs a 'name'/);

    const badName = parseSpec('name: my env\ndependencies: [python]\n');
    expect(badName.issues[0]).toMatchObject({ line: 1, message: expect.stringMatching(/spaces/) });

    const notList = parseSpec('name: a\ndependencies: python\n');
    expect(notList.issues[0].message).toMatch(/dependencies must be a list/);

    const number = parseSpec('name: a\ndependencies:\n  - python\n  - 3.10\n');
    expect(number.issues[0]).toMatchObject({ line: 4, message: expect.stringMatching(/number/) });

    const mapping = parseSpec('name: a\ndependencies:\n  - {conda: x}\n');
    expect(mapping.issues[0].message).toMatch(/package spec \(text\) or a pip: list/);

    const badPip = parseSpec('name: a\ndependencies:\n  - pip:\n      - -e .\n');
    expect(badPip.issues[0]).toMatchObject({ line: 4, message: expect.stringMatching(/pip/) });

    const twoPip = parseSpec('name: a\ndependencies:\n  - pip: [a]\n  - pip: [b]\n');
    expect(twoPip.issues[0].message).toMatch(/Only one pip/);

    const badVar = parseSpec('name: a\ndependencies: [x]\nvariables:\n  1A: x\n');
    expect(badVar.issues[0].message).toMatch(/not a valid environment variable name/);
  });

  it('warns when the name differs from the environment and when nothing is listed', () => {
    const parsed = parseSpec('name: other\ndependencies: []\n', { environmentName: 'demo' });
    expect(parsed.valid).toBe(true);
    expect(parsed.issues.map(i => i.severity)).toEqual(['warning', 'warning']);
    expect(parsed.issues[0].message).toMatch(/built as 'demo'/);
  });

  it('recognises a conda-lock file', () => {
    const parsed = parseSpec('version: 1\nmetadata: {}\npackage: []\n');
    expect(parsed.kind).toBe('lockfile');
    expect(parsed.valid).toBe(true);
  });

  it('refuses a document that is not a mapping', () => {
    expect(parseSpec('- python\n').issues[0].message).toMatch(/must be a mapping/);
    expect(parseSpec('').issues[0].message).toMatch(/empty/);
  });
});

describe('names and templates', () => {
  it('checks names like the server', () => {
    expect(checkName('environment', 'ok-name_1.0')).toBeNull();
    expect(checkName('environment', '')).toMatch(/empty/);
    expect(checkName('environment', '.hidden')).toMatch(/start/);
    expect(checkName('namespace', 'a/b')).toMatch(/'\/'/);
  });

  it('makes templates that validate', () => {
    const python = parseSpec(templateText('python', 'demo'));
    expect(python.valid).toBe(true);
    expect(python.form!.dependencies.map(d => d.name)).toEqual(['python', 'ipykernel']);
    expect(parseSpec(templateText('blank', 'demo')).valid).toBe(true);
  });

  it('renames an uploaded specification, keeping its comments', () => {
    const text = withName('# mine\nname: old\ndependencies: [a]\n', 'new');
    expect(text).toContain('# mine');
    expect(parse(text).name).toBe('new');
  });
});
