// Tag filter of the Q&A bank: show only the questions of the chosen tag, no server needed.
document.addEventListener("DOMContentLoaded", () => {
  const bar = document.querySelector(".llmnotes-tag-filter");
  if (!bar) return;
  const items = Array.from(document.querySelectorAll(".llmnotes-bank-item"));
  const count = bar.querySelector(".llmnotes-tag-count");
  const show = (tag) => {
    let shown = 0;
    for (const item of items) {
      const visible = tag === "all" || item.classList.contains(`llmnotes-tag-${tag}`);
      item.hidden = !visible;
      shown += visible ? 1 : 0;
    }
    for (const button of bar.querySelectorAll("button")) {
      button.classList.toggle("active", button.dataset.tag === tag);
      button.setAttribute("aria-pressed", String(button.dataset.tag === tag));
    }
    count.textContent = `${shown} of ${items.length} questions shown`;
  };
  bar.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-tag]");
    if (button) show(button.dataset.tag);
  });
  show("all");
});
