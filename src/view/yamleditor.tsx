/** The YAML editor: JupyterLab's CodeMirror through the editor services, with problems marked. */
import { CodeEditor } from '@jupyterlab/codeeditor';
import React, { useEffect, useRef } from 'react';

import { ISpecIssue } from '../validation';
import { showIssues } from './diagnostics';

interface IYamlEditorProps {
  factory: CodeEditor.Factory;
  value: string;
  onChange: (value: string) => void;
  onEditor?: (editor: CodeEditor.IEditor | null) => void;
  label: string;
  /** Problems to mark in the text (lines and columns of `value`). */
  issues?: ISpecIssue[];
}

export function YamlEditor(props: IYamlEditorProps): JSX.Element {
  const host = useRef<HTMLDivElement>(null);
  const model = useRef<CodeEditor.Model>();
  const editorRef = useRef<CodeEditor.IEditor | null>(null);
  const onChange = useRef(props.onChange);
  onChange.current = props.onChange;
  const hintId = `${props.label.replace(/[^A-Za-z0-9_-]/g, '_')}-hint`;

  useEffect(() => {
    const editorModel = new CodeEditor.Model({ mimeType: 'text/x-yaml' });
    editorModel.sharedModel.setSource(props.value);
    model.current = editorModel;
    const editor = props.factory({
      host: host.current!,
      model: editorModel,
      config: { lineNumbers: true, lineWrap: false, tabSize: 2, indentUnit: '2' } as Record<
        string,
        unknown
      >
    });
    editorRef.current = editor;
    const contentNode = host.current!.querySelector('.cm-content');
    contentNode?.setAttribute('aria-label', props.label);
    contentNode?.setAttribute('aria-describedby', hintId);
    const changed = () => onChange.current(editorModel.sharedModel.getSource());
    editorModel.sharedModel.changed.connect(changed);
    props.onEditor?.(editor);
    return () => {
      props.onEditor?.(null);
      editorRef.current = null;
      editorModel.sharedModel.changed.disconnect(changed);
      editor.dispose();
      editorModel.dispose();
      model.current = undefined;
    };
  }, [props.factory]);

  // Text set from outside (the form, loading a build's specification, revert).
  useEffect(() => {
    const shared = model.current?.sharedModel;
    if (shared && shared.getSource() !== props.value) {
      shared.setSource(props.value);
    }
  }, [props.value]);

  useEffect(() => {
    if (editorRef.current) {
      showIssues(editorRef.current, props.issues ?? []);
    }
  }, [props.issues, props.value]);

  return (
    <>
      <div className="jp-CondaStore-yamlEditor" ref={host} />
      <p className="jp-CondaStore-muted jp-CondaStore-editorHint" id={hintId}>
        Tab indents. Press <kbd>Esc</kbd> then <kbd>Tab</kbd> to leave the editor.
      </p>
    </>
  );
}
