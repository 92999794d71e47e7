/**
 * One editor for a list of rows (channels, packages, pip packages, variables): a fieldset with
 * a row of inputs per item, a remove button per row and an add button that focuses the new row.
 */
import { addIcon, closeIcon } from '@jupyterlab/ui-components';
import React, { InputHTMLAttributes, ReactNode, useEffect, useRef } from 'react';

/** One input of a row: how to read and write its part of the item. */
export interface IListColumn<T> {
  /** The input's accessible name for row `n` (1-based), e.g. `Package 2 name`. */
  label: (n: number) => string;
  /** The column's heading, shown above the rows when any column has one. */
  heading?: string;
  placeholder?: string;
  /** The input takes the row's whole width. */
  wide?: boolean;
  get: (item: T) => string;
  set: (item: T, value: string) => T;
  /** More attributes of the input (e.g. completion with `list` and `onFocus`). */
  inputProps?: (item: T) => InputHTMLAttributes<HTMLInputElement>;
}

/** A column that edits a whole row, a string (a channel, a requirement). */
export function textColumn(label: (n: number) => string, placeholder: string): IListColumn<string> {
  return { label, placeholder, wide: true, get: item => item, set: (_, value) => value };
}

/** The keys of `T` whose values are strings. */
type StringKey<T> = { [K in keyof T]: T[K] extends string ? K : never }[keyof T];

/** A column that edits the string `key` of each row. */
export function fieldColumn<T>(
  key: StringKey<T>,
  column: Omit<IListColumn<T>, 'get' | 'set'>
): IListColumn<T> {
  return {
    ...column,
    get: item => item[key] as unknown as string,
    set: (item, value) => ({ ...item, [key]: value })
  };
}

export interface IListFieldProps<T> {
  /** The legend, also the fieldset's accessible name. */
  legend: string;
  items: ReadonlyArray<T>;
  onChange: (items: T[]) => void;
  columns: ReadonlyArray<IListColumn<T>>;
  /** `data-row` of each row (for styles and tests). */
  rowKind: string;
  /** The add button's label, e.g. `Add channel`. */
  addLabel: string;
  /** The item a click on the add button appends. */
  newItem: () => T;
  /** The remove button's accessible name for `item`, the `n`-th row. */
  removeLabel: (item: T, n: number) => string;
  /** Shown instead of the rows when there are none. */
  empty?: ReactNode;
  /** What is wrong with a row, if anything (the server's problems, placed). */
  problemOf?: (item: T) => string | undefined;
}

export function ListField<T>(props: IListFieldProps<T>): JSX.Element {
  const { items, columns, onChange } = props;
  const root = useRef<HTMLFieldSetElement>(null);
  /** How many rows there were when the add button was pressed. */
  const addedAt = useRef<number | null>(null);

  // After adding a row, focus its first input (once the row is there).
  useEffect(() => {
    if (addedAt.current !== null && root.current) {
      if (items.length > addedAt.current) {
        const rows = root.current.querySelectorAll<HTMLElement>('.jp-CondaStore-row[data-row]');
        rows[rows.length - 1]?.querySelector('input')?.focus();
      }
      addedAt.current = null;
    }
  });

  const headings = columns.some(column => column.heading);
  return (
    <fieldset className="jp-CondaStore-fieldset" aria-label={props.legend} ref={root}>
      <legend>{props.legend}</legend>
      {items.length === 0 && props.empty}
      {items.length > 0 && headings && (
        <div className="jp-CondaStore-row jp-CondaStore-rowHeader" aria-hidden="true">
          {columns.map((column, index) => (
            <span key={index}>{column.heading ?? ''}</span>
          ))}
          <span />
        </div>
      )}
      {items.map((item, index) => {
        const problem = props.problemOf?.(item);
        return (
          <div
            className="jp-CondaStore-row"
            key={index}
            data-row={props.rowKind}
            data-invalid={problem ? true : undefined}
            title={problem}
          >
            {columns.map((column, c) => (
              <input
                key={c}
                className={`jp-CondaStore-input${column.wide ? ' jp-CondaStore-wide' : ''}`}
                aria-label={column.label(index + 1)}
                aria-invalid={problem ? true : undefined}
                aria-description={c === 0 ? problem : undefined}
                placeholder={column.placeholder}
                value={column.get(item)}
                {...column.inputProps?.(item)}
                onChange={e => {
                  const value = e.target.value;
                  column.inputProps?.(item).onChange?.(e);
                  onChange(
                    items.map((other, i) => (i === index ? column.set(other, value) : other))
                  );
                }}
              />
            ))}
            <button
              className="jp-CondaStore-iconButton"
              onClick={() => onChange(items.filter((_, i) => i !== index))}
              aria-label={props.removeLabel(item, index + 1)}
              title={props.removeLabel(item, index + 1)}
            >
              <closeIcon.react tag="span" elementSize="normal" />
            </button>
          </div>
        );
      })}
      <button
        className="jp-CondaStore-addButton"
        onClick={() => {
          addedAt.current = items.length;
          onChange([...items, props.newItem()]);
        }}
      >
        <addIcon.react tag="span" elementSize="normal" />
        <span>{props.addLabel}</span>
      </button>
    </fieldset>
  );
}
