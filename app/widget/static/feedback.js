// <feedback-thumbs>, <feedback-stars>: no dependencies, no build. Names are a contract (README).
const ORIGIN = new URL(import.meta.url).origin;
const MAX_COMMENT = 4000;

const REASONS = {
  down: ["not_factually_correct", "didnt_fully_follow_instructions", "not_helpful",
    "too_verbose", "refused_when_it_shouldnt_have", "dont_like_the_style", "other"],
  up: ["accurate_information", "followed_instructions_perfectly", "thorough_explanation",
    "showcased_creativity", "attention_to_detail", "other"],
};

const LABELS = {
  en: {
    up: "Thumbs up", down: "Thumbs down", comment: "Comment", send: "Send", cancel: "Cancel",
    retry: "Retry", rating: "Rating", star: "1 star", stars: "{n} stars",
    sheet_down: "What went wrong?", sheet_up: "What went well?", sending: "Sending…",
    sent: "Thanks for your feedback", failed: "Could not send your feedback.",
    expired: "This feedback session expired.",
    // Other keys read as words: "not_helpful" -> "Not helpful".
    didnt_fully_follow_instructions: "Didn't fully follow instructions",
    refused_when_it_shouldnt_have: "Refused when it shouldn't have",
    dont_like_the_style: "Don't like the style",
  },
  it: {
    up: "Pollice su", down: "Pollice giù", comment: "Commento", send: "Invia",
    cancel: "Annulla", retry: "Riprova", rating: "Valutazione", star: "1 stella",
    stars: "{n} stelle", sheet_down: "Cosa non ha funzionato?",
    sheet_up: "Cosa ha funzionato?", sending: "Invio…", sent: "Grazie per il feedback",
    failed: "Invio non riuscito.", expired: "La sessione di feedback è scaduta.",
    not_factually_correct: "Non corretto nei fatti",
    didnt_fully_follow_instructions: "Non ha seguito del tutto le istruzioni",
    not_helpful: "Non utile", too_verbose: "Troppo prolisso",
    refused_when_it_shouldnt_have: "Ha rifiutato senza motivo",
    dont_like_the_style: "Non mi piace lo stile", other: "Altro",
    accurate_information: "Informazioni accurate",
    followed_instructions_perfectly: "Ha seguito le istruzioni alla perfezione",
    thorough_explanation: "Spiegazione completa", showcased_creativity: "Creativo",
    attention_to_detail: "Attenzione ai dettagli",
  },
};

// A constructable stylesheet applies under `style-src 'self'`; a <style> would not.
const CSS = `:host{display:inline-block;font:var(--feedback-font,inherit);color:var(--feedback-fg,inherit);
--b:1px solid var(--feedback-border,#c8c8c8);--r:var(--feedback-radius,.5em);--a:var(--feedback-accent,#2563eb)}
[hidden]{display:none!important}
.row{display:flex;gap:.25em;align-items:center;flex-wrap:wrap}
button{font:inherit;color:inherit;cursor:pointer;background:var(--feedback-bg,none);border:var(--b);
border-radius:var(--r);padding:.25em .5em}
:focus-visible{outline:2px solid var(--a)}
[data-on]{color:var(--a)}
[aria-pressed=true],[aria-checked=true]{background:var(--a);color:var(--feedback-accent-fg,#fff);border-color:var(--a)}
button:disabled{opacity:.6}
svg{width:1.2em;height:1.2em;vertical-align:middle;fill:currentColor}
.sheet{margin:.5em 0;padding:.75em;border:var(--b);border-radius:var(--r);
background:var(--feedback-sheet-bg,Canvas);max-width:var(--feedback-sheet-width,28em);outline:none}
h2{font-size:1em;margin:0 0 .5em}
textarea{display:block;box-sizing:border-box;width:100%;margin:.25em 0;font:inherit}
.counter,.status{font-size:.85em}
label{display:block;margin-top:.5em}.actions{margin-top:.5em}`;
let sheet = null;
function styles() {
  if (!sheet) { sheet = new CSSStyleSheet(); sheet.replaceSync(CSS); }
  return sheet;
}

const SVG_NS = "http://www.w3.org/2000/svg";
const THUMB = "M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L13.2 1 6.6 7.6C6.2 8 6 8.5 6 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1.2-.7v-2z";
function thumbIcon(flip) {
  const svg = document.createElementNS(SVG_NS, "svg");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", THUMB);
  svg.append(path);
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  if (flip) svg.style.transform = "rotate(180deg)";
  return svg;
}

// No innerHTML: labels may come from the host page and are never parsed as HTML.
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  if (tag === "button") el.type = "button";
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  el.append(...children);
  return el;
}

// UUID v4; getRandomValues, unlike randomUUID, also exists outside secure contexts.
function uuid4() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
  const x = [...b].map((v) => (v + 256).toString(16).slice(1)).join("");
  return x.replace(/(.{8})(.{4})(.{4})(.{4})/, "$1-$2-$3-$4-");
}

class FeedbackElement extends HTMLElement {
  static observedAttributes = ["lang", "token"];

  constructor() {
    super();
    this.attachShadow({ mode: "open" }).adoptedStyleSheets = [styles()];
    this._labels = {};
    this._pending = null; // the last action {path, body, key, detail}, kept for retry
    this._state = "idle";
  }

  connectedCallback() { this.render(); }

  /** Resend the last failed action (same Idempotency-Key). */
  retry() { return this._send(); }

  attributeChangedCallback(name, old, value) {
    if (!this.isConnected || old === value) return;
    if (name === "lang") this.render();
    // A fresh token after `token-expired`: resend the same action.
    if (name === "token" && this._state === "expired" && this._pending) this._send();
  }

  /** Override any label: `el.labels = {send: "Submit"}`. */
  get labels() { return this._labels; }
  set labels(value) { this._labels = { ...value }; if (this.isConnected) this.render(); }

  t(key, n) {
    const lang = (this.closest("[lang]")?.lang || "en").slice(0, 2).toLowerCase();
    const s = this._labels[key] ?? (LABELS[lang] || LABELS.en)[key] ?? LABELS.en[key]
      ?? key[0].toUpperCase() + key.slice(1).replaceAll("_", " ");
    return s.replace("{n}", n);
  }

  get endpoint() {
    return (this.getAttribute("endpoint") || ORIGIN).replace(/\/+$/, "");
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  /** One user action: one Idempotency-Key, reused by every retry. */
  _submit(path, body, detail) {
    this._pending = { path, body, key: uuid4(), detail };
    return this._send();
  }

  async _send() {
    const p = this._pending;
    if (!p || this._state === "sending") return;
    this._setState("sending");
    let res, data = null;
    try {
      res = await fetch(this.endpoint + p.path, {
        method: "POST", credentials: "omit", body: JSON.stringify(p.body),
        headers: { Authorization: `Bearer ${this.getAttribute("token")}`,
          "Content-Type": "application/json", "Idempotency-Key": p.key },
      });
      if (res.headers.get("content-type")?.includes("json")) data = await res.json();
    } catch (error) {
      this._setState("failed");
      this._emit("feedback-error", { ...p.detail, status: 0, error: String(error), retryable: true });
      return;
    }
    const detail = { ...p.detail, status: res.status, response: data };
    if (res.ok) {
      this._pending = null;
      this._sent(p.detail);
      this._setState("sent");
      this._emit("feedback-sent", detail);
    } else if (res.status === 401 || res.status === 403) {
      this._setState("expired");
      this._emit("token-expired", detail);
    } else {
      detail.retryable = res.status === 429 || res.status >= 500;
      this._setState("failed", detail.retryable);
      this._emit("feedback-error", detail);
    }
  }

  _setState(state, retryable = true) {
    this._state = state;
    const s = this._status;
    if (!s) return;
    s.text.textContent = state === "idle" ? "" : this.t(state);
    s.retry.hidden = state !== "failed" || !retryable;
    this.toggleAttribute("busy", state === "sending");
    this.setAttribute("state", state);
  }

  _statusLine() {
    const text = h("span", { part: "status-text" });
    const retry = h("button", { part: "retry", hidden: true, text: this.t("retry"),
      onclick: () => this._send() });
    this._status = { text, retry };
    const el = h("div", { class: "status", part: "status", role: "status" }, text, " ", retry);
    queueMicrotask(() => this._setState(this._state));
    return el;
  }

  _comment(value, oninput) {
    const counter = h("span", { class: "counter", part: "counter", "aria-hidden": "true" });
    const update = () => { counter.textContent = `${area.value.length}/${MAX_COMMENT}`; };
    const area = h("textarea", { id: "comment", part: "comment", maxlength: MAX_COMMENT, rows: 3,
      oninput: () => { update(); oninput(area.value); } });
    area.value = value;
    update();
    return [h("label", { for: "comment", part: "comment-label", text: this.t("comment") }), area, counter];
  }
}

class FeedbackThumbs extends FeedbackElement {
  constructor() {
    super();
    this._current = null; // the vote last stored
    this._draft = null; // {vote, reasons: Set, comment, opener} while the sheet is open
    this._reasons = null;
    this.shadowRoot.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this._draft) { e.stopPropagation(); this._close(); }
    });
  }

  /** `el.reasons = {down: [...keys], up: [...keys]}` (an array: down). */
  get reasons() { return this._reasons || REASONS; }
  set reasons(value) {
    this._reasons = Array.isArray(value) ? { ...REASONS, down: value } : { ...REASONS, ...value };
    if (this.isConnected) this.render();
  }

  render() {
    const thumb = (vote) => h("button", {
      part: `thumb thumb-${vote}`, "aria-label": this.t(vote),
      "aria-pressed": String((this._draft?.vote ?? this._current) === vote),
      onclick: () => this._choose(vote),
    }, thumbIcon(vote === "down"));
    this._thumbs = { up: thumb("up"), down: thumb("down") };
    this.shadowRoot.replaceChildren(
      h("div", { class: "row", part: "thumbs" }, this._thumbs.up, this._thumbs.down),
      this._draft ? this._sheet() : "",
      this._statusLine(),
    );
  }

  _choose(vote) {
    if (this._state === "sending") return;
    const withSheet = vote === "down" || this.hasAttribute("up-reasons");
    if (!withSheet) {
      if (this._pending?.detail.vote === vote) return this._send();
      if (this._current === vote && this._state === "sent") return;
      this._draft = null;
      this.render();
      this._vote({ vote, reasons: new Set(), comment: "" });
      return;
    }
    this._draft = { vote, reasons: new Set(), comment: "", opener: vote };
    this.render();
    this.shadowRoot.querySelector(".sheet button").focus();
  }

  _sheet() {
    const d = this._draft;
    const chips = (this.reasons[d.vote] || []).map((key) => h("button", {
      part: "chip", "aria-pressed": String(d.reasons.has(key)),
      "data-reason": key, text: this.t(key),
      onclick: (e) => {
        d.reasons.has(key) ? d.reasons.delete(key) : d.reasons.add(key);
        e.currentTarget.setAttribute("aria-pressed", String(d.reasons.has(key)));
      },
    }));
    return h("div", {
      class: "sheet", part: "sheet", role: "dialog", "aria-labelledby": "sheet-title",
      tabindex: "-1",
    }, h("h2", { id: "sheet-title", text: this.t(`sheet_${d.vote}`) }),
    h("div", { class: "row", part: "chips", role: "group", "aria-labelledby": "sheet-title" }, ...chips),
    ...this._comment(d.comment, (v) => { d.comment = v; }),
    h("div", { class: "row actions" },
      h("button", { part: "send", text: this.t("send"), onclick: () => { this._close(); this._vote(d); } }),
      h("button", { part: "cancel", text: this.t("cancel"), onclick: () => this._close() })));
  }

  _close() {
    const opener = this._draft?.opener;
    this._draft = null;
    this.render();
    if (opener) this._thumbs[opener].focus();
  }

  _vote({ vote, reasons, comment }) {
    const body = { conversation_id: this.getAttribute("conversation-id"), vote, reasons: [...reasons] };
    const queryId = this.getAttribute("query-id");
    if (queryId) body.query_id = queryId;
    if (comment.trim()) body.comment = comment;
    this._submit("/api/v1/feedback", body, { vote, reasons: body.reasons, comment: body.comment ?? null });
  }

  _sent({ vote }) {
    this._current = vote;
    for (const [k, b] of Object.entries(this._thumbs)) b.setAttribute("aria-pressed", String(k === vote));
  }
}

class FeedbackStars extends FeedbackElement {
  constructor() {
    super();
    this._rating = 0;
    this._commentText = "";
  }

  render() {
    const stars = [1, 2, 3, 4, 5].map((n) => h("button", {
      role: "radio", part: "star", "data-rating": n, "data-on": n <= this._rating,
      "aria-checked": String(n === this._rating), "aria-label": this.t(n === 1 ? "star" : "stars", n),
      tabindex: n === (this._rating || 1) ? "0" : "-1",
      onclick: () => this._select(n),
      onkeydown: (e) => this._arrow(e, n), text: "★",
    }));
    this._stars = stars;
    const send = h("button", { part: "send", text: this.t("send"),
      disabled: !this._rating, onclick: () => this._rate() });
    this._sendButton = send;
    this.shadowRoot.replaceChildren(
      h("div", { class: "row", part: "stars", role: "radiogroup", "aria-label": this.t("rating") }, ...stars),
      ...this._comment(this._commentText, (v) => { this._commentText = v; }),
      h("div", { class: "row actions" }, send),
      this._statusLine(),
    );
  }

  _select(n, focus) {
    this._rating = n;
    this._stars.forEach((b, i) => {
      b.setAttribute("aria-checked", String(i + 1 === n));
      b.toggleAttribute("data-on", i < n);
      b.tabIndex = i + 1 === n ? 0 : -1;
    });
    this._sendButton.disabled = false;
    if (focus) this._stars[n - 1].focus();
  }

  // Arrows move and select, as in a native radio group.
  _arrow(e, n) {
    const step = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1 }[e.key];
    if (!step) return;
    e.preventDefault();
    this._select(Math.min(5, Math.max(1, n + step)), true);
  }

  _rate() {
    if (!this._rating || this._state === "sending") return;
    const body = { rating: this._rating };
    if (this._commentText.trim()) body.comment = this._commentText;
    const key = encodeURIComponent(this.getAttribute("cache-key") || "");
    this._submit(`/api/v1/cache/entries/${key}/feedback`, body,
      { rating: body.rating, comment: body.comment ?? null });
  }

  _sent() {}
}

if (!customElements.get("feedback-thumbs")) customElements.define("feedback-thumbs", FeedbackThumbs);
if (!customElements.get("feedback-stars")) customElements.define("feedback-stars", FeedbackStars);

export { FeedbackThumbs, FeedbackStars, LABELS, REASONS };
