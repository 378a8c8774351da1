// The console's only script: copy buttons (data-copy names the element to copy)
// and the Activity page's live rows (data-live names its Server-Sent Events URL).
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const text = document.getElementById(button.dataset.copy).textContent.trim();
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Select and copy by hand";
  }
});

function requestRow(entry) {
  const row = document.createElement("tr");
  row.className = entry.failed ? "failed" : "succeeded";
  const cells = [
    entry.time, `${entry.method} ${entry.route}`, `${entry.status} ${entry.scim_type}`,
    `${entry.latency_ms} ms`, entry.idp, entry.key_id, entry.request_id,
  ];
  for (const text of cells) {
    const cell = document.createElement("td");
    cell.textContent = text; // text, never HTML: the log holds what clients sent
    row.append(cell);
  }
  return row;
}

const live = document.querySelector("#requests[data-live]");
if (live) {
  const source = new EventSource(live.dataset.live);
  source.onmessage = (message) => {
    live.querySelector("tr.empty")?.remove();
    live.tBodies[0].prepend(requestRow(JSON.parse(message.data)));
  };
  source.addEventListener("end", () => source.close());
}
