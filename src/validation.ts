/**
 * Checking specifications and names as the user types, by asking the server (the validate
 * route): the rules live in Python only. Checks are debounced and only the latest counts.
 */
import { useEffect, useState } from 'react';

import type { ISpecProblem, IValidateRequest, IValidation } from './api';

/** What checking needs from the API client (`ICondaStoreAPI` has it). */
export interface ISpecValidator {
  validateSpecification(request: IValidateRequest, signal?: AbortSignal): Promise<IValidation>;
}

/** How long typing must pause before the text is sent to be checked. */
export const CHECK_DELAY = 300;

/** A problem as the views list it: the server's problems, and notices of the view's own. */
export interface ISpecIssue {
  severity: 'error' | 'warning';
  message: string;
  /** 1-based line and column in the text, when known. */
  line?: number;
  column?: number;
  /** Where it is in the document (`['dependencies', 2]`), for the form view. */
  path?: Array<string | number>;
  /** Names to offer instead of an unknown one ("did you mean numpy?"). */
  suggestions?: string[];
  /** More of the explanation (a solver's). */
  detail?: string;
}

/** The same request gives the same key (the fields in a fixed order). */
export function checkKey(request: IValidateRequest): string {
  return JSON.stringify([
    request.specification ?? null,
    request.is_lockfile ?? null,
    request.namespace ?? null,
    request.environment_name ?? null,
    request.solve ?? false
  ]);
}

/**
 * Check `request` after `delay` ms; `onAnswer` gets the answer (or the error) unless the
 * returned cancel function was called first: cancelling drops the timer or aborts the request
 * in flight, so an old answer never arrives after a newer request was made.
 */
export function startCheck(
  validator: ISpecValidator,
  request: IValidateRequest,
  onAnswer: (result: IValidation | null, error: unknown) => void,
  delay = CHECK_DELAY
): () => void {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    validator.validateSpecification(request, controller.signal).then(
      result => {
        if (!controller.signal.aborted) {
          onAnswer(result, null);
        }
      },
      error => {
        if (!controller.signal.aborted) {
          onAnswer(null, error);
        }
      }
    );
  }, delay);
  return () => {
    clearTimeout(timer);
    controller.abort();
  };
}

export interface ICheck {
  /** True while the answer for the current request is not in yet. */
  pending: boolean;
  /** The latest answer; while pending, the one for an earlier request (or null). */
  result: IValidation | null;
  /** Why the current request could not be checked (e.g. the server is down), or null. */
  error: unknown;
}

interface IAnswer {
  key: string;
  result: IValidation | null;
  error: unknown;
}

/**
 * The server's verdict on `request`, checked again (debounced) whenever it changes; null
 * checks nothing. While a check is pending the previous answer stays, marked pending.
 */
export function useValidation(
  validator: ISpecValidator | null,
  request: IValidateRequest | null
): ICheck {
  const key = request && validator ? checkKey(request) : null;
  const [answer, setAnswer] = useState<IAnswer | null>(null);
  useEffect(() => {
    if (!key || !validator || !request) {
      return;
    }
    return startCheck(validator, request, (result, error) => setAnswer({ key, result, error }));
  }, [key, validator]);
  if (!key) {
    return { pending: false, result: null, error: null };
  }
  const current = answer?.key === key;
  return {
    pending: !current,
    result: answer?.result ?? null,
    error: current ? answer!.error : null
  };
}

/** A server problem in words for a person (the server writes them lower-case first). */
export function problemMessage(problem: ISpecProblem): string {
  const text = problem.message.trim();
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

/** The server's problems (with the text and with its names), as the editor lists them. */
export function specIssues(result: IValidation | null): ISpecIssue[] {
  return (result?.problems ?? []).map(problem => ({
    severity: 'error' as const,
    message: problemMessage(problem),
    line: problem.line ?? undefined,
    column: problem.column ?? undefined,
    path: problem.path,
    ...(problem.suggestions?.length ? { suggestions: problem.suggestions } : {}),
    ...(problem.detail ? { detail: problem.detail } : {})
  }));
}
