// UI thread: renders and forwards user actions to the engine worker.
const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
let nextId = 1;
const pending = new Map();
worker.onmessage = ({ data }) => {
  const entry = pending.get(data.id);
  if (!entry) return;
  pending.delete(data.id);
  data.ok ? entry.resolve(data.result) : entry.reject(new Error(data.error));
};
worker.onerror = (event) => {
  event.preventDefault();
  $("status").textContent = "failed to start";
  showError(new Error(`the engine worker failed: ${event.message || "could not load"}`));
};
function call(op, args) {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, op, args });
  });
}

const $ = (id) => document.getElementById(id);
const EXAMPLE = [
  "Blade Runner (1982)",
  "The Matrix (1999)",
  "Alien (1979)",
  "book: Dune — Frank Herbert",
  "Radiohead",
  "Daft Punk",
  "A film the catalogue does not know (2011)",
].join("\n");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function showError(error) {
  $("error").textContent = error ? String(error.message || error) : "";
  $("error").hidden = !error;
}

async function busy(button, action) {
  button.disabled = true;
  showError(null);
  try {
    await action();
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
}

function renderAnalysis(analysis) {
  $("summary").hidden = false;
  const known = analysis.favourites.filter((f) => f.in_catalogue).length;
  $("favourite-count").textContent =
    `${analysis.favourites.length} favourites (${known} recognised from the catalogue)`;
  $("traits").replaceChildren(
    ...(analysis.traits.length
      ? analysis.traits.map((t) => el("li", { class: "trait" }, `${t.label} · ${Math.round(t.strength * 100)}%`))
      : [el("li", {}, "No readable traits yet: none of these are in the catalogue.")]),
  );
  $("skipped").replaceChildren(
    ...analysis.skipped.map((s) => el("li", {}, `line ${s.line}: ${s.reason}`)),
  );
  $("skipped-box").hidden = analysis.skipped.length === 0;
  const max = Math.max(...analysis.vector_preview.map(Math.abs), 1e-6);
  $("vector").replaceChildren(
    ...analysis.vector_preview.map((x) => {
      const bar = el("span", { class: x >= 0 ? "bar pos" : "bar neg", title: x.toFixed(4) });
      bar.style.height = `${Math.round((Math.abs(x) / max) * 40) + 2}px`;
      return bar;
    }),
  );
  $("fingerprint").textContent = analysis.vector_fingerprint;
  $("publish-box").hidden = false;
}

function renderMatches(matches) {
  $("matches").replaceChildren(
    ...matches.map(({ candidate, explanation }) =>
      el(
        "li",
        { class: "match-card" },
        el("h3", {}, candidate.card.display_name),
        el("p", { class: "score" }, `Taste similarity ${Math.round(candidate.score * 100)}%`),
        el(
          "div",
          { class: "why", role: "group", "aria-label": "Why this match?" },
          el("span", { class: "why-label" }, "Why this match?"),
          ...explanation.chips.map((chip) => el("span", { class: `chip chip-${chip.kind.type}` }, chip.text)),
        ),
        el("p", { class: "card-traits" }, candidate.card.traits.map((t) => t.label).join(" · ")),
      ),
    ),
  );
  $("matches-empty").hidden = matches.length > 0;
}

$("example").addEventListener("click", () => {
  $("favourites").value = EXAMPLE;
});

$("analyse").addEventListener("click", () =>
  busy($("analyse"), async () => renderAnalysis(await call("analyse", { text: $("favourites").value }))),
);

$("publish").addEventListener("click", () =>
  busy($("publish"), async () => {
    if (!$("consent").checked) throw new Error("Tick “Make me discoverable” to publish.");
    const result = await call("publish", {
      displayName: $("display-name").value,
      showFavourites: Number($("show-favourites").value),
    });
    $("publish-status").textContent = `Published as ${result.userId} (${result.bytesSent} bytes left this device).`;
    $("matches-box").hidden = false;
    $("optout").hidden = false;
  }),
);

$("find").addEventListener("click", () =>
  busy($("find"), async () => renderMatches(await call("matches", { k: 10 }))),
);

$("optout").addEventListener("click", () =>
  busy($("optout"), async () => {
    const result = await call("optOut");
    $("publish-status").textContent = `Opted out: the coordinator deleted ${result.deletedUserId}. A new device key was made.`;
    $("user-id").textContent = result.userId;
    $("matches").replaceChildren();
    $("optout").hidden = true;
  }),
);

call("init")
  .then(({ userId, modelVersion }) => {
    $("user-id").textContent = userId;
    $("model-version").textContent = `v${modelVersion}`;
    $("status").textContent = "ready";
    $("analyse").disabled = false;
  })
  .catch((error) => {
    $("status").textContent = "failed to start";
    showError(error);
  });
