/**
 * Checking with the server as the user types: debounced, and only the latest request counts
 * (an earlier one is dropped before it is sent, or aborted in flight).
 */
import type { IValidateRequest, IValidation } from '../api';
import { CHECK_DELAY, checkKey, problemMessage, specIssues, startCheck } from '../validation';

const VALID: IValidation = { valid: true, problems: [], name: 'demo' };

/** A validator whose answers the test releases one by one. */
function validator() {
  const calls: Array<{
    request: IValidateRequest;
    signal?: AbortSignal;
    answer: (result: IValidation) => void;
  }> = [];
  return {
    calls,
    validateSpecification: (request: IValidateRequest, signal?: AbortSignal) =>
      new Promise<IValidation>(resolve => calls.push({ request, signal, answer: resolve }))
  };
}

describe('startCheck', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('waits for a pause in typing before asking', async () => {
    const server = validator();
    const answers: unknown[] = [];
    startCheck(server, { specification: 'name: demo\n' }, result => answers.push(result));
    jest.advanceTimersByTime(CHECK_DELAY - 1);
    expect(server.calls).toHaveLength(0);
    jest.advanceTimersByTime(1);
    expect(server.calls).toHaveLength(1);
    expect(server.calls[0].request).toEqual({ specification: 'name: demo\n' });
    server.calls[0].answer(VALID);
    await Promise.resolve();
    expect(answers).toEqual([VALID]);
  });

  it('never sends a check cancelled while waiting', () => {
    const server = validator();
    const cancel = startCheck(server, { specification: 'a' }, () => undefined);
    cancel();
    jest.advanceTimersByTime(CHECK_DELAY * 2);
    expect(server.calls).toHaveLength(0);
  });

  it('aborts a check in flight and drops its late answer', async () => {
    const server = validator();
    const answers: unknown[] = [];
    const cancel = startCheck(server, { specification: 'old' }, result => answers.push(result));
    jest.advanceTimersByTime(CHECK_DELAY);
    cancel();
    expect(server.calls[0].signal?.aborted).toBe(true);
    startCheck(server, { specification: 'new' }, result => answers.push(result));
    jest.advanceTimersByTime(CHECK_DELAY);
    server.calls[1].answer({ ...VALID, name: 'new' });
    server.calls[0].answer({ ...VALID, name: 'old' });
    await Promise.resolve();
    await Promise.resolve();
    expect(answers).toEqual([{ ...VALID, name: 'new' }]);
  });

  it('passes errors on (the view still lets the server check on submit)', async () => {
    const failing = {
      validateSpecification: () => Promise.reject(new Error('down'))
    };
    const errors: unknown[] = [];
    startCheck(failing, { namespace: 'x' }, (_, error) => errors.push(error));
    jest.advanceTimersByTime(CHECK_DELAY);
    await Promise.resolve();
    await Promise.resolve();
    expect((errors[0] as Error).message).toBe('down');
  });
});

describe('problems as shown', () => {
  it('keys requests by their fields whatever their order', () => {
    expect(checkKey({ namespace: 'a', specification: 'x' })).toBe(
      checkKey({ specification: 'x', namespace: 'a' })
    );
    expect(checkKey({ namespace: 'a' })).not.toBe(checkKey({ environment_name: 'a' }));
    expect(checkKey({ specification: 'x' })).not.toBe(
      checkKey({ specification: 'x', solve: true })
    );
  });

  it('lists the problems with their line, capitalised', () => {
    const issues = specIssues({
      valid: false,
      name: null,
      problems: [
        { message: 'invalid YAML: x', line: 4, column: 3, path: [], field: 'specification' },
        { message: 'no line', line: null, column: null, path: [], field: 'specification' },
        { message: 'bad namespace', line: null, column: null, path: [], field: 'namespace' },
        {
          message: 'no package nupmy',
          line: 3,
          column: 5,
          path: ['dependencies', 0],
          field: 'specification',
          suggestions: ['numpy']
        }
      ]
    });
    expect(issues).toEqual([
      { severity: 'error', message: 'Invalid YAML: x', line: 4, column: 3, path: [] },
      { severity: 'error', message: 'No line', line: undefined, column: undefined, path: [] },
      { severity: 'error', message: 'Bad namespace', line: undefined, column: undefined, path: [] },
      {
        severity: 'error',
        message: 'No package nupmy',
        line: 3,
        column: 5,
        path: ['dependencies', 0],
        suggestions: ['numpy']
      }
    ]);
    expect(
      problemMessage({ message: 'x', line: null, column: null, path: [], field: 'namespace' })
    ).toBe('X');
  });
});
