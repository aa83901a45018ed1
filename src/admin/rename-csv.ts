/**
 * Reads a group-rename CSV (two columns: group id, name; an optional `id,name` header). All or nothing: any bad
 * row rejects the whole file with an error naming each bad row, so a half-applied rename never happens.
 */
import { parse } from 'csv-parse/sync';
import { ValidationError } from '../common/errors';

export const MAX_GROUP_NAME = 256;

export function parseRenameCsv(text: string): Map<string, string> {
  let rows: { record: string[]; info: { lines: number } }[];
  try {
    rows = parse(text.replace(/^\uFEFF/, ''), {
      relax_column_count: true,
      skip_empty_lines: true,
      trim: true,
      info: true,
      record_delimiter: ['\r\n', '\n', '\r'],
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (error) {
    const line = (error as { lines?: number }).lines;
    throw new ValidationError(`The CSV is malformed${line ? ` near row ${line}` : ''}: ${(error as Error).message}`, undefined, 'invalid_csv');
  }
  const names = new Map<string, string>();
  const firstRowOf = new Map<string, number>();
  const problems: string[] = [];
  rows.forEach(({ record: row, info }, index) => {
    const rowNumber = info.lines;
    if (index === 0 && row.length === 2 && /^(id|objectid|externalid)$/i.test(row[0]!) && /^(name|displayname)$/i.test(row[1]!)) return;
    if (row.length !== 2) {
      problems.push(`row ${rowNumber}: expected 2 columns (id,name), found ${row.length}`);
      return;
    }
    const [id, name] = row as [string, string];
    if (!id) problems.push(`row ${rowNumber}: the group id is empty`);
    else if (!name) problems.push(`row ${rowNumber}: the name is empty`);
    else if (name.length > MAX_GROUP_NAME) problems.push(`row ${rowNumber}: the name is longer than ${MAX_GROUP_NAME} characters`);
    else if (names.has(id) && names.get(id) !== name) problems.push(`row ${rowNumber}: group ${id} was already named differently in row ${firstRowOf.get(id)}`);
    else {
      names.set(id, name);
      if (!firstRowOf.has(id)) firstRowOf.set(id, rowNumber);
    }
  });
  if (problems.length > 0) {
    throw new ValidationError(`The CSV has ${problems.length} bad row(s); nothing was renamed. ${problems.slice(0, 20).join('; ')}`, { problems }, 'invalid_csv');
  }
  return names;
}
