// Dates and JSON as operators read them. Times are shown in UTC, labelled, so two operators in
// different zones talking about "10:42" mean the same minute; the full timestamp is in the title.

const timeFormat = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', timeZone: 'UTC', hourCycle: 'h23' });
const dayFormat = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });

/** "10:42 UTC" today, "10:42 UTC on 24 Nov 2026" otherwise. */
export function formatTime(date: Date | string, now: Date = new Date()): string {
  const d = typeof date === 'string' ? new Date(date) : date;
  const time = `${timeFormat.format(d)} UTC`;
  return dayFormat.format(d) === dayFormat.format(now) ? time : `${time} on ${dayFormat.format(d)}`;
}

export function formatTimestamp(date: Date | string): string {
  const d = typeof date === 'string' ? new Date(date) : date;
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** "3 min ago", "2 h ago", "4 d ago" */
export function formatAge(date: Date | string, now: Date = new Date()): string {
  const d = typeof date === 'string' ? new Date(date) : date;
  const seconds = Math.max(0, Math.round((now.getTime() - d.getTime()) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} d ago`;
}

/** JSON as readable text: strings as themselves, everything else pretty-printed. */
export function jsonToText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** "in 40 s", "in 12 min", "in 3 h" for a moment ahead; "now" once it has passed */
export function formatUntil(date: Date | string, now: Date = new Date()): string {
  const d = typeof date === 'string' ? new Date(date) : date;
  const seconds = Math.round((d.getTime() - now.getTime()) / 1000);
  if (seconds <= 0) return 'now';
  if (seconds < 60) return `in ${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `in ${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `in ${hours} h`;
  return `in ${Math.round(hours / 24)} d`;
}

/** A token or task count: "12,345". */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/**
 * US dollars: cents from a dollar up ("$12.34"), four significant digits below ("$0.004213"), since a
 * model step often costs a fraction of a cent.
 */
export function formatUsd(value: number | string | null | undefined): string {
  const n = typeof value === 'string' ? Number(value) : (value ?? 0);
  if (!Number.isFinite(n) || n === 0) return '$0.00';
  if (Math.abs(n) >= 1) return `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  const digits = n.toLocaleString('en-US', { maximumSignificantDigits: 4, maximumFractionDigits: 8 });
  // at least cents: "$0.50", not "$0.5"
  return `$${digits.includes('.') ? digits.replace(/\.\d$/, (tail) => `${tail}0`) : `${digits}.00`}`;
}
