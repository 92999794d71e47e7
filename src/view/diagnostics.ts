/**
 * Problems marked inside the YAML editor (JupyterLab's CodeMirror 6): the entry underlined, its
 * line tinted, the message as the mark's tooltip. The list under the editor says the same in
 * words, with the fixes.
 */
import type { CodeEditor } from '@jupyterlab/codeeditor';
import { EditorState, Range, StateEffect, StateField } from '@codemirror/state';
import { Decoration, DecorationSet, EditorView } from '@codemirror/view';

import { ISpecIssue } from '../validation';

const setIssues = StateEffect.define<ISpecIssue[]>();

/** Where an issue is in `state`: its line, and the entry from its column to the line's end. */
export function issueRange(
  doc: { lines: number; line(n: number): { from: number; to: number; text: string } },
  issue: ISpecIssue
): { line: number; from: number; to: number } | null {
  if (issue.line === undefined || issue.line < 1 || issue.line > doc.lines) {
    return null;
  }
  const line = doc.line(issue.line);
  const start = Math.min(line.from + Math.max(0, (issue.column ?? 1) - 1), line.to);
  const end = line.from + line.text.replace(/\s+(#.*)?$/, '').length;
  return { line: line.from, from: start, to: Math.max(start, end) };
}

function decorate(state: EditorState, issues: ISpecIssue[]): DecorationSet {
  const ranges: Range<Decoration>[] = [];
  for (const issue of issues) {
    const place = issueRange(state.doc, issue);
    if (!place) {
      continue;
    }
    const attributes = { title: issue.message, 'data-severity': issue.severity };
    ranges.push(
      Decoration.line({ class: 'jp-CondaStore-problemLine', attributes }).range(place.line)
    );
    if (place.to > place.from) {
      ranges.push(
        Decoration.mark({
          class: `jp-CondaStore-problemMark cm-lintRange cm-lintRange-${issue.severity}`,
          attributes
        }).range(place.from, place.to)
      );
    }
  }
  return Decoration.set(ranges, true);
}

const issuesField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(value, transaction) {
    let next = value.map(transaction.changes);
    for (const effect of transaction.effects) {
      if (effect.is(setIssues)) {
        next = decorate(transaction.state, effect.value);
      }
    }
    return next;
  },
  provide: field => EditorView.decorations.from(field)
});

/** Mark `issues` in `editor` (replacing the marks it had); a no-op for other editors. */
export function showIssues(editor: CodeEditor.IEditor, issues: ISpecIssue[]): void {
  // JupyterLab's CodeMirrorEditor exposes its EditorView as `editor`.
  const view = (editor as unknown as { editor?: EditorView }).editor;
  if (!view || typeof view.dispatch !== 'function') {
    return;
  }
  const effects: StateEffect<unknown>[] = [setIssues.of(issues)];
  if (view.state.field(issuesField, false) === undefined) {
    effects.unshift(StateEffect.appendConfig.of(issuesField));
  }
  view.dispatch({ effects });
}
