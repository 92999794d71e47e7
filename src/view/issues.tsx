/** The problems of a specification, in words, under the editor: each with its line and fixes. */
import React from 'react';

import { ISpecIssue } from '../validation';

export interface IIssueListProps {
  issues: ISpecIssue[];
  onGoTo?: (issue: ISpecIssue) => void;
  /** Replace the unknown name of `issue` with `name` ("did you mean numpy?"). */
  onSuggest?: (issue: ISpecIssue, name: string) => void;
  /** The list is being checked again (it is for an earlier text). */
  pending?: boolean;
  label?: string;
}

export function IssueList(props: IIssueListProps): JSX.Element | null {
  if (!props.issues.length) {
    return null;
  }
  const errors = props.issues.filter(i => i.severity === 'error').length;
  return (
    <div
      className="jp-CondaStore-issues"
      role={errors ? 'alert' : 'status'}
      aria-label={props.label ?? 'Problems in the specification'}
      aria-busy={props.pending || undefined}
    >
      <ul>
        {props.issues.map((issue, index) => (
          <li key={index} className="jp-CondaStore-issue" data-severity={issue.severity}>
            <span className="jp-CondaStore-issueSeverity">
              {issue.severity === 'error' ? 'Error' : 'Warning'}
            </span>
            {issue.line !== undefined && props.onGoTo ? (
              <button
                className="jp-CondaStore-linkButton"
                onClick={() => props.onGoTo!(issue)}
                aria-label={`Go to line ${issue.line}`}
              >
                line {issue.line}
              </button>
            ) : issue.line !== undefined ? (
              <span className="jp-CondaStore-muted">line {issue.line}</span>
            ) : null}
            <span className="jp-CondaStore-issueMessage">{issue.message}</span>
            {props.onSuggest &&
              issue.line !== undefined &&
              (issue.suggestions ?? []).map(name => (
                <button
                  key={name}
                  className="jp-CondaStore-linkButton jp-CondaStore-suggestion"
                  onClick={() => props.onSuggest!(issue, name)}
                >
                  Did you mean {name}?
                </button>
              ))}
            {issue.detail && (
              // The solver's own words, folded: the line above says it plainly.
              <details className="jp-CondaStore-issueDetail">
                <summary>The solver's explanation</summary>
                <pre>{issue.detail}</pre>
              </details>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
