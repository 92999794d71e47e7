/**
 * The specification form's round trip: YAML → form model → YAML keeps channels, dependencies
 * with their constraints, pip and variables; keys the form does not edit are kept; what the
 * form cannot show is left to the YAML editor. (Whether a specification is valid is the
 * server's call: its rules are tested in tests/test_spec.py.)
 */
import { parse } from 'yaml';

import {
  ISpecForm,
  formToYaml,
  formatDependency,
  parseDependency,
  readSpec,
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
  const parsed = readSpec(text);
  expect(parsed.reason).toBe('');
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
    expect(readSpec(text).form).not.toBeNull();
  });

  it('drops the pip section and variables when the form empties them', () => {
    const model = form(FULL);
    model.pip = [];
    model.variables = [];
    const data = parse(formToYaml(model, FULL));
    expect(data.dependencies).not.toContainEqual(
      expect.objectContaining({ pip: expect.anything() })
    );
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

describe('what the form can show', () => {
  it('says when the text is not YAML at all, and leaves the message to the server', () => {
    const parsed = readSpec('name: demo\ndependencies:\n  - python\n  foo: [\n');
    expect(parsed.parses).toBe(false);
    expect(parsed.form).toBeNull();
    expect(parsed.reason).toMatch(/does not parse/);
    expect(readSpec('name: a\nname: b\n').parses).toBe(false);
  });

  it('recognises a conda-lock file, which is edited as YAML only', () => {
    const parsed = readSpec('version: 1\nmetadata: {}\npackage: []\n');
    expect(parsed.kind).toBe('lockfile');
    expect(parsed.parses).toBe(true);
    expect(parsed.form).toBeNull();
  });

  it('leaves shapes it cannot show to the YAML editor', () => {
    for (const text of [
      '- python\n',
      '',
      'name: a\ndependencies: python\n',
      'name: a\ndependencies:\n  - 3.10\n',
      'name: a\ndependencies:\n  - {conda: x}\n',
      'name: a\ndependencies:\n  - pip: [a]\n  - pip: [b]\n',
      'name: a\nvariables: [A]\n',
      'name: a\nchannels: &c [x]\ndependencies: *c\n'
    ]) {
      const parsed = readSpec(text);
      expect(parsed.parses).toBe(true);
      expect(parsed.form).toBeNull();
      expect(parsed.reason).toMatch(/edit it as YAML/);
    }
  });

  it('shows what the server would refuse, for the server to say so', () => {
    // Unknown fields are kept aside; odd names and pip options are just text to the form.
    const parsed = form('name: my env\ndependencies:\n  - pip:\n      - -e .\nchanels: [x]\n');
    expect(parsed.name).toBe('my env');
    expect(parsed.pip).toEqual(['-e .']);
    expect(parsed.extra).toEqual({ chanels: ['x'] });
  });
});

describe('templates', () => {
  it('makes templates the form can show', () => {
    const python = readSpec(templateText('python', 'demo'));
    expect(python.form!.dependencies.map(d => d.name)).toEqual(['python', 'ipykernel']);
    expect(python.form!.name).toBe('demo');
    expect(readSpec(templateText('blank', 'demo')).form!.dependencies).toEqual([]);
  });

  it('renames an uploaded specification, keeping its comments', () => {
    const text = withName('# mine\nname: old\ndependencies: [a]\n', 'new');
    expect(text).toContain('# mine');
    expect(parse(text).name).toBe('new');
  });
});
