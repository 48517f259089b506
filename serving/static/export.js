// Exports: a table as a CSV file the user downloads (made in the page, nothing sent anywhere), and a
// print-friendly page of one section (the print style sheet in app.css shows only that section).

/** A cell as CSV: quoted when needed; text that a spreadsheet would run as a formula is defused with a quote. */
export function csvCell(value) {
  if (value === null || value === undefined) return "";
  let text = String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Rows ({column: value}) as CSV text with a header row of ``heading(column)``, lines ending CRLF (RFC 4180). */
export function toCsv(rows, columns, heading = (c) => c) {
  const lines = [columns.map((c) => csvCell(heading(c))).join(",")];
  for (const row of rows) lines.push(columns.map((c) => csvCell(row[c])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

/** Offer ``rows`` as a CSV download called ``filename`` (with a byte-order mark: spreadsheets then read UTF-8). */
export function downloadCsv(filename, rows, columns, heading) {
  const blob = new Blob(["\ufeff", toCsv(rows, columns, heading)], { type: "text/csv;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Print only ``section`` (rotation, watch or health): app.css's print rules read body[data-print]. */
export function printSection(section) {
  document.body.dataset.print = section;
  const done = () => {
    delete document.body.dataset.print;
    window.removeEventListener("afterprint", done);
  };
  window.addEventListener("afterprint", done);
  window.print();
}
