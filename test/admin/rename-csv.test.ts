import { ValidationError } from '../../src/common/errors';
import { parseRenameCsv } from '../../src/admin/rename-csv';

function problemsOf(text: string): string[] {
  try {
    parseRenameCsv(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return ((error as ValidationError).details?.problems as string[]) ?? [(error as Error).message];
  }
  throw new Error('the CSV was accepted');
}

describe('parseRenameCsv', () => {
  it('reads id,name rows with an optional header, quotes, BOM and blank lines', () => {
    const names = parseRenameCsv('\uFEFFid,name\r\nguid-1,Engineering\n\n"guid-2","Sales, EMEA"\n guid-3 , Ops \n');
    expect([...names]).toEqual([
      ['guid-1', 'Engineering'],
      ['guid-2', 'Sales, EMEA'],
      ['guid-3', 'Ops'],
    ]);
  });

  it('reads a file without a header', () => {
    expect([...parseRenameCsv('guid-1,Engineering')]).toEqual([['guid-1', 'Engineering']]);
  });

  it('names every bad row and applies none of them', () => {
    const problems = problemsOf('id,name\nguid-1,Engineering\nguid-2\nguid-3,\n,Nameless\nguid-1,Other name\nguid-4,a,b\n');
    expect(problems).toEqual([
      'row 3: expected 2 columns (id,name), found 1',
      'row 4: the name is empty',
      'row 5: the group id is empty',
      'row 6: group guid-1 was already named differently in row 2',
      'row 7: expected 2 columns (id,name), found 3',
    ]);
  });

  it('refuses over-long names and malformed quoting', () => {
    expect(problemsOf(`g,${'x'.repeat(300)}`)[0]).toMatch(/row 1: the name is longer than 256/);
    expect(problemsOf('g,"unterminated\n')[0]).toMatch(/malformed/);
  });
});
