/** A one-line progress bar for a terminal, e.g. `[##########··········] 36/71`. */
export function progressBar(done: number, total: number, width = 30): string {
  const filled = total > 0 ? Math.round((Math.min(done, total) / total) * width) : width;
  return `[${'#'.repeat(filled)}${'·'.repeat(width - filled)}] ${done}/${total}`;
}
