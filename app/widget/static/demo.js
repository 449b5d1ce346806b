// The demo page's script: what a host page does around the widget. A file, not inline,
// because the demo page's Content-Security-Policy allows no inline script.
const conversationId = document.getElementById("conversation").textContent;
const events = document.getElementById("events");

function log(type, detail) {
  const item = document.createElement("li");
  const status = detail.status ?? detail.response?.status ?? "";
  item.textContent = `${type} ${status} ${JSON.stringify(detail)}`;
  events.prepend(item);
}

async function refreshVotes() {
  const url = `/widget/demo/votes?conversation_id=${encodeURIComponent(conversationId)}`;
  const res = await fetch(url);
  if (!res.ok) return;
  const data = await res.json();
  document.getElementById("current").textContent = data.current ?? "none yet";
  document.getElementById("history").replaceChildren(...data.history.map((vote) => {
    const item = document.createElement("li");
    const reasons = vote.reasons.length ? ` (${vote.reasons.join(", ")})` : "";
    item.textContent = `${vote.created_at}: ${vote.vote}${reasons}${vote.comment ? ` "${vote.comment}"` : ""}`;
    return item;
  }));
}

// The host's side of `token-expired`: ask its own backend for a new token and hand it to
// the widget, which then resends the same action with the same Idempotency-Key.
async function renewToken(event) {
  const el = event.target;
  const query = el.localName === "feedback-thumbs" ? `?conversation_id=${encodeURIComponent(conversationId)}` : "";
  const res = await fetch(`/widget/demo/token${query}`, { method: "POST" });
  if (res.ok) el.setAttribute("token", (await res.json()).token);
}

for (const type of ["feedback-sent", "feedback-error", "token-expired"]) {
  document.addEventListener(type, (event) => log(type, event.detail));
}
document.addEventListener("feedback-sent", refreshVotes);
document.addEventListener("token-expired", renewToken);
refreshVotes();
