'use client';
// Long model output, instructions and errors, shown as text (React escapes it: markup stays inert)
// and folded to a preview so one huge output does not bury the page.
import { useId, useState } from 'react';

export function CollapsibleText({
  text,
  previewLines = 8,
  previewChars = 1200,
  className = '',
  label = 'text',
}: {
  text: string;
  previewLines?: number;
  previewChars?: number;
  className?: string;
  label?: string;
}) {
  const [open, setOpen] = useState(false);
  const id = useId();
  const lines = text.split('\n');
  const long = lines.length > previewLines || text.length > previewChars;
  const shown = open || !long ? text : lines.slice(0, previewLines).join('\n').slice(0, previewChars);
  return (
    <div className={className}>
      <pre
        id={id}
        className="max-w-full overflow-x-auto whitespace-pre-wrap break-words rounded-md bg-slate-50 p-3 font-mono text-[13px] leading-5 text-slate-800 ring-1 ring-slate-200"
      >
        {shown}
        {long && !open ? '…' : null}
      </pre>
      {long ? (
        <button
          type="button"
          aria-expanded={open}
          aria-controls={id}
          onClick={() => setOpen((v) => !v)}
          className="mt-1 text-xs font-medium text-indigo-700 hover:underline focus-visible:outline-2 focus-visible:outline-indigo-600"
        >
          {open ? `Show less` : `Show all ${label} (${lines.length.toLocaleString('en-US')} lines, ${text.length.toLocaleString('en-US')} characters)`}
        </button>
      ) : null}
    </div>
  );
}
