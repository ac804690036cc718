/**
 * Node's argument parser refuses `--requests -3` as "ambiguous" (a value that starts with a dash) and
 * answers with its own advice. A negative number after a flag is that flag's value: rewrite it as
 * `--requests=-3` (`-p-1` for a short flag), so the flag's own check says what is wrong with it, in the
 * project's words. Applied before every `parseArgs` of the `sonde` commands. (After a boolean flag the
 * rewrite makes the parser say the flag takes no value, which is as true.)
 */
export function negativeValuesInline(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const isFlag = /^--[A-Za-z][-A-Za-z0-9]*$/.test(a) || /^-[A-Za-z]$/.test(a);
    if (isFlag && next !== undefined && /^-\d/.test(next)) {
      out.push(a.startsWith('--') ? `${a}=${next}` : `${a}${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}
