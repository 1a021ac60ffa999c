
window.addEventListener("load", () => {
  const expected = JSON.parse(document.body.dataset.expectedSections);
  const problems = [];
  for (const id of expected) {
    const section = document.querySelector(`section[data-section="${id}"]`);
    if (!section) { problems.push(`section ${id} missing`); continue; }
    const images = section.querySelectorAll("img");
    // a section says when it is text only (a table, or a line saying there is nothing to plot)
    if (!images.length && !("textOnly" in section.dataset)) problems.push(`section ${id} has no image`);
    images.forEach((img, i) => {
      if (!img.complete || img.naturalWidth === 0) problems.push(`section ${id} image ${i} did not decode`);
    });
  }
  // nothing wider than the window: a table or figure running off the right edge hides its last columns
  const width = document.documentElement.clientWidth;
  document.querySelectorAll("section").forEach((section) => {
    if (section.scrollWidth > width) problems.push(`section ${section.dataset.section} wider than the window`);
  });
  document.body.dataset.reportStatus = problems.length ? "broken" : "ok";
  document.body.dataset.sectionsRendered = String(expected.length - new Set(problems.map(p => p.split(" ")[1])).size);
  document.getElementById("report-status").textContent =
    problems.length ? "report check: " + problems.join("; ") : `report check: all ${expected.length} sections ok`;
  if (problems.length) console.error("eidata report broken: " + problems.join("; "));
});
