import React, { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';

import { BuildBadge, errorText, useSignal } from '../components';
import { BuildStatus, IBuild, isActive } from '../models';
import { ICondaStoreAPI } from '../tokens';
import { BuildLog } from './buildlog';
import { BuildProblems } from './buildproblems';

/** A log line split into its timestamp and its text. */
export interface ILogLine {
  time: string;
  text: string;
  /** `failure` for the line saying what failed, `message` for the explanation after it. */
  kind: 'normal' | 'failure' | 'message' | 'final';
}

const TIMESTAMP = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?) ?(.*)$/;
const FAILURE = /\b(solve failed|failed|error|traceback|cannot|could not|killed|timed out)\b/i;
const FINAL = /^build (COMPLETED|FAILED|CANCELED)\b/;

export function splitLine(raw: string): { time: string; text: string } {
  const match = TIMESTAMP.exec(raw);
  return match ? { time: match[2], text: match[3] } : { time: '', text: raw };
}

/**
 * Mark the failing step and the message after it. On a failed build, the first line saying
 * something failed is the failing step; the lines after it up to the final state are its
 * message (a solver's explanation, a pip error). On other builds every line is normal.
 */
export function classify(lines: ReadonlyArray<string>, status: BuildStatus | null): ILogLine[] {
  const result: ILogLine[] = lines.map(raw => ({ ...splitLine(raw), kind: 'normal' }));
  for (const line of result) {
    if (FINAL.test(line.text)) {
      line.kind = 'final';
    }
  }
  if (status !== 'FAILED') {
    return result;
  }
  const start = result.findIndex(l => l.kind === 'normal' && FAILURE.test(l.text));
  if (start === -1) {
    return result;
  }
  result[start].kind = 'failure';
  for (let i = start + 1; i < result.length && result[i].kind !== 'final'; i++) {
    result[i].kind = 'message';
  }
  return result;
}

interface ILogViewProps {
  /** The log of the selected build, which the view model streams while the view is visible. */
  log: BuildLog;
  api: ICondaStoreAPI;
  build: IBuild | null;
  /** Cancel the build (offered while it is queued or running). */
  onCancel?: () => Promise<void>;
  /** Show a line of a build's specification (a failed build's problem). */
  onGoToLine?: (buildId: number, line: number, column: number) => void;
}

/**
 * A build's log, streamed live while it builds, scrolling to the end as lines come unless the
 * reader scrolled up. On failure the failing step and the message after it are highlighted,
 * and repeated in a summary above the log.
 */
export function LogView(props: ILogViewProps): JSX.Element {
  const { log, api, build } = props;
  useSignal(log.changed);
  const { lines, status, error, streaming } = log.state;
  const [stuck, setStuck] = useState(true);
  const [canceling, setCanceling] = useState(false);
  const [cancelError, setCancelError] = useState<unknown>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const stuckRef = useRef(true);
  // The lines read: all of them while the view sticks to the end.
  const seen = useRef(0);
  if (stuck) {
    seen.current = lines.length;
  }
  const unseen = Math.max(0, lines.length - seen.current);

  // Another build: start at its end.
  useEffect(() => {
    stuckRef.current = true;
    setStuck(true);
  }, [log.state.buildId]);

  useLayoutEffect(() => {
    const node = scroller.current;
    if (node && stuckRef.current) {
      node.scrollTop = node.scrollHeight;
    }
  }, [lines]);

  const onScroll = useCallback(() => {
    const node = scroller.current;
    if (!node) {
      return;
    }
    const atEnd = node.scrollTop + node.clientHeight >= node.scrollHeight - 8;
    if (atEnd !== stuckRef.current) {
      stuckRef.current = atEnd;
      setStuck(atEnd);
    }
  }, []);

  const jumpToEnd = () => {
    const node = scroller.current;
    if (node) {
      node.scrollTop = node.scrollHeight;
    }
    stuckRef.current = true;
    setStuck(true);
  };

  if (!build) {
    return <p className="jp-CondaStore-muted">No build selected.</p>;
  }

  const classified = classify(lines, status);
  const failure = classified.find(l => l.kind === 'failure');
  const message = classified.filter(l => l.kind === 'message');
  const live = isActive(status) && streaming;

  return (
    <div className="jp-CondaStore-log">
      <div className="jp-CondaStore-logHeader">
        <span>
          Build {build.id} {status && <BuildBadge status={status} />}
        </span>
        <span className="jp-CondaStore-muted" role="status" aria-live="polite">
          {live
            ? 'Streaming live…'
            : streaming
              ? 'Loading…'
              : `${lines.length} line${lines.length === 1 ? '' : 's'}`}
        </span>
        {props.onCancel && isActive(status) && (
          <button
            className="jp-CondaStore-smallButton jp-mod-warn"
            disabled={canceling}
            onClick={() => {
              setCanceling(true);
              setCancelError(null);
              props.onCancel!()
                .catch(reason => setCancelError(reason))
                .finally(() => setCanceling(false));
            }}
          >
            {canceling ? 'Canceling…' : 'Cancel build'}
          </button>
        )}
        <a className="jp-CondaStore-linkButton" href={api.artifactURL(build.id, 'logs')} download>
          Download log
        </a>
      </div>
      {cancelError !== null && (
        <div className="jp-CondaStore-error" role="alert">
          {errorText(cancelError, `cancel build ${build.id}`)}
        </div>
      )}
      {status === 'FAILED' && (
        <div className="jp-CondaStore-failure" role="alert" aria-label="Why the build failed">
          <p className="jp-CondaStore-failureStep">
            {failure
              ? `Failed at: ${failure.text.replace(/:\s*$/, '')}`
              : `Build ${build.id} failed${build.status_info ? `: ${build.status_info}` : '.'}`}
          </p>
          {message.length > 0 && (
            <pre className="jp-CondaStore-solverMessage">{message.map(l => l.text).join('\n')}</pre>
          )}
          <BuildProblems api={api} build={build} onGoToLine={props.onGoToLine} />
        </div>
      )}
      {status === 'CANCELED' && (
        <div className="jp-CondaStore-notice" role="status">
          Build {build.id} was canceled. The environment stays on its previous build.
        </div>
      )}
      {error !== null && (
        <div className="jp-CondaStore-error" role="alert">
          {errorText(error, 'read the log')}
        </div>
      )}
      <div
        className="jp-CondaStore-logLines"
        ref={scroller}
        onScroll={onScroll}
        role="log"
        aria-label={`Log of build ${build.id}`}
        aria-live="off"
        tabIndex={0}
      >
        {classified.map((line, index) => (
          <div key={index} className="jp-CondaStore-logLine" data-kind={line.kind}>
            <span className="jp-CondaStore-logTime">{line.time}</span>
            <span className="jp-CondaStore-logText">{line.text}</span>
          </div>
        ))}
        {lines.length === 0 && !error && (isActive(status) || !streaming) && (
          <div className="jp-CondaStore-muted">
            {isActive(status) ? 'Waiting for the build to start…' : 'This build wrote no log.'}
          </div>
        )}
      </div>
      {!stuck && (
        <button className="jp-CondaStore-jumpButton" onClick={jumpToEnd}>
          {unseen > 0
            ? `${unseen} new line${unseen === 1 ? '' : 's'} — jump to the end`
            : 'Jump to the end'}
        </button>
      )}
    </div>
  );
}
