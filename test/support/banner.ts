/**
 * The rows of the start-up banner (local/banner.ts) in a runtime's output, by name; fails when the
 * output has no banner.
 */
export function bannerRows(output: string): Record<string, string> {
  const lines = output.split('\n')
  const start = lines.findIndex((l) => l.startsWith('Order Aggregator is up, listening on '))
  if (start < 0) throw new Error(`no start-up banner in:\n${output}`)
  const rows: Record<string, string> = {}
  for (const line of lines.slice(start + 1)) {
    const row = /^ {2}(\S+(?: \S+)*) {2,}(\S.*)$/.exec(line)
    if (!row) break
    rows[row[1]!] = row[2]!
  }
  return rows
}
