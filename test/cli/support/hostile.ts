/** Every character class a terminal acts on, each inside text. */
export const HOSTILE = {
  osc: 'title\u001b]0;pwned\u0007end',
  csi: 'red\u001b[31mtext\u001b[0m',
  c1csi: 'c1\u009b2Jcleared',
  cr: 'real\roverwritten',
  newline: 'one\nforged line',
  del: 'rub\u007fout',
  bidi: 'abc\u202etxt.exe',
  separator: 'a\u2028b',
  nul: 'nul\u0000byte',
} as const;

/** What may not reach a terminal raw. */
// eslint-disable-next-line no-control-regex -- the characters under test
export const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
