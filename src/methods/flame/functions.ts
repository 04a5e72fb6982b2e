// Signatures of common Excel worksheet functions (argument counts and kinds), written from
// Microsoft's public function reference. The corpus generator samples calls from it, the parser
// checks arity with it and the rule baseline fixes misspelled names against it.
//
// Kinds: r range, n number-valued expression, t text expression, c condition (logical),
// k criteria string ("<5", "x*"), a any value, i small positive integer (index / column number),
// b TRUE/FALSE/0/1 flag. The last kind repeats for variadic functions. `w` is a rough
// popularity weight for sampling (higher = more frequent in real spreadsheets).

export type ArgKind = 'r' | 'n' | 't' | 'c' | 'k' | 'a' | 'i' | 'b';

export interface FunctionSig {
  name: string;
  min: number;
  max: number;
  kinds: ArgKind[];
  w: number;
}

// name min max kinds weight ('*' max = variadic up to 255)
const TABLE = `
SUM 1 * r 30
IF 2 3 caa 40
IFERROR 2 2 aa 12
VLOOKUP 3 4 arib 20
HLOOKUP 3 4 arib 3
INDEX 2 3 rii 10
MATCH 2 3 ari 10
XLOOKUP 3 6 arraii 4
COUNTIF 2 2 rk 10
COUNTIFS 2 * rk 6
SUMIF 2 3 rkr 10
SUMIFS 3 * rrk 8
AVERAGEIF 2 3 rkr 3
AVERAGEIFS 3 * rrk 2
SUMPRODUCT 1 * r 6
AVERAGE 1 * r 8
COUNT 1 * r 5
COUNTA 1 * r 6
COUNTBLANK 1 1 r 2
MAX 1 * r 6
MIN 1 * r 6
MAXIFS 3 * rrk 2
MINIFS 3 * rrk 2
LARGE 2 2 ri 2
SMALL 2 2 ri 2
RANK 2 3 nrb 2
MEDIAN 1 * r 1
STDEV 1 * r 1
ROUND 2 2 ni 8
ROUNDUP 2 2 ni 3
ROUNDDOWN 2 2 ni 3
INT 1 1 n 3
ABS 1 1 n 3
MOD 2 2 nn 3
MROUND 2 2 nn 1
CEILING 2 2 nn 1
FLOOR 2 2 nn 1
POWER 2 2 nn 1
SQRT 1 1 n 1
AND 1 * c 10
OR 1 * c 10
NOT 1 1 c 3
ISBLANK 1 1 a 6
ISERROR 1 1 a 4
ISNUMBER 1 1 a 5
ISTEXT 1 1 a 2
ISNA 1 1 a 2
NA 0 0 a 1
LEN 1 1 t 5
LEFT 1 2 ti 6
RIGHT 1 2 ti 6
MID 3 3 tii 5
FIND 2 3 tti 4
SEARCH 2 3 tti 4
SUBSTITUTE 3 4 ttti 4
REPLACE 4 4 tiit 1
TRIM 1 1 t 4
UPPER 1 1 t 2
LOWER 1 1 t 2
PROPER 1 1 t 1
CONCATENATE 1 * t 6
CONCAT 1 * t 2
TEXTJOIN 3 * tbr 2
TEXT 2 2 nt 6
VALUE 1 1 t 3
REPT 2 2 ti 1
EXACT 2 2 tt 1
TODAY 0 0 a 6
NOW 0 0 a 2
DATE 3 3 nnn 5
YEAR 1 1 n 4
MONTH 1 1 n 4
DAY 1 1 n 3
WEEKDAY 1 2 ni 2
WEEKNUM 1 2 ni 1
EDATE 2 2 nn 2
EOMONTH 2 2 nn 2
DATEDIF 3 3 nnt 3
DATEVALUE 1 1 t 1
NETWORKDAYS 2 3 nnr 2
WORKDAY 2 3 nnr 1
HOUR 1 1 n 1
MINUTE 1 1 n 1
TIME 3 3 nnn 1
ROW 0 1 r 3
COLUMN 0 1 r 2
ROWS 1 1 r 1
COLUMNS 1 1 r 1
OFFSET 3 5 riiii 4
INDIRECT 1 2 tb 4
CHOOSE 2 * ia 2
LOOKUP 2 3 arr 3
ADDRESS 2 5 iiibt 1
HYPERLINK 1 2 tt 1
TRANSPOSE 1 1 r 1
UNIQUE 1 3 rbb 1
FILTER 2 3 rca 2
SORT 1 4 riib 1
SUBTOTAL 2 * ir 2
AGGREGATE 3 * iir 1
PMT 3 5 nnnnb 1
FV 3 5 nnnnb 1
NPV 2 * nr 1
IFS 2 * ca 2
SWITCH 3 * aaa 1
CHAR 1 1 i 1
CODE 1 1 t 1
N 1 1 a 1
TIMEVALUE 1 1 t 1
IFNA 2 2 aa 2
RANDBETWEEN 2 2 nn 1
RAND 0 0 a 1
RANK.EQ 2 3 nrb 1
MODE 1 * r 1
CELL 1 2 tr 1
ISODD 1 1 n 1
ISEVEN 1 1 n 1
PI 0 0 a 1
LN 1 1 n 1
LOG 1 2 nn 1
EXP 1 1 n 1
SIGN 1 1 n 1
TRUNC 1 2 ni 1
`;

const parseMax = (s: string) => (s === '*' ? 255 : Number(s));

export const FUNCTION_LIST: readonly FunctionSig[] = TABLE.trim()
  .split('\n')
  .map((line) => {
    const [name, min, max, kinds, w] = line.trim().split(/\s+/);
    return { name: name!, min: Number(min), max: parseMax(max!), kinds: [...kinds!] as ArgKind[], w: Number(w) };
  });

export const FUNCTIONS: ReadonlyMap<string, FunctionSig> = new Map(FUNCTION_LIST.map((f) => [f.name, f]));

/** The kind of argument i (the last kind repeats; SUMIFS-style pairs repeat the last two). */
export function argKind(f: FunctionSig, i: number): ArgKind {
  if (i < f.kinds.length) return f.kinds[i]!;
  if (f.max > f.kinds.length && f.kinds.length >= 2 && (f.name.endsWith('IFS') || f.name === 'IFS' || f.name === 'SWITCH')) {
    // (range, criteria) / (condition, value) pairs after the fixed head
    const tail = f.kinds.slice(-2);
    return tail[(i - f.kinds.length) % 2]!;
  }
  return f.kinds[f.kinds.length - 1]!;
}
