/** A failed build's solver complaints, each linked to its line in the build's specification. */
import React, { useEffect, useState } from 'react';

import type { ISpecProblem } from '../api';
import { IBuild } from '../models';
import { ICondaStoreAPI } from '../tokens';
import { problemMessage } from '../validation';

export interface IBuildProblemsProps {
  api: ICondaStoreAPI;
  build: IBuild;
  /** Show the build's specification with the cursor on `line`. */
  onGoToLine?: (buildId: number, line: number, column: number) => void;
}

export function BuildProblems(props: IBuildProblemsProps): JSX.Element | null {
  const { api, build, onGoToLine } = props;
  const [problems, setProblems] = useState<ISpecProblem[]>(build.problems ?? []);
  useEffect(() => {
    let stale = false;
    setProblems(build.problems ?? []);
    if (build.status === 'FAILED' && !build.problems?.length) {
      // The list of builds leaves them out; the build itself has them.
      api.getBuild(build.id).then(
        full => !stale && setProblems(full.problems ?? []),
        () => undefined
      );
    }
    return () => {
      stale = true;
    };
  }, [api, build.id, build.status]);
  if (!problems.length) {
    return null;
  }
  return (
    <div className="jp-CondaStore-failureProblems">
      <ul aria-label="Problems in the specification">
        {problems.map((problem, index) => (
          <li key={index}>
            {problem.line !== null && onGoToLine ? (
              <button
                className="jp-CondaStore-linkButton"
                onClick={() => onGoToLine(build.id, problem.line!, problem.column ?? 1)}
                aria-label={`Show line ${problem.line} of build ${build.id}'s specification`}
              >
                line {problem.line}
              </button>
            ) : problem.line !== null ? (
              <span className="jp-CondaStore-muted">line {problem.line}</span>
            ) : null}{' '}
            {problemMessage(problem)}
          </li>
        ))}
      </ul>
    </div>
  );
}
