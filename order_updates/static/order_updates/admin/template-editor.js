// The template editor's live preview: while the merchant types, the form is
// submitted (after a pause) to the preview, which renders into the sandboxed
// frame. Nothing of the template runs here: the frame has no origin and no
// scripts. Without JavaScript, the Preview button does the same.
(function () {
  "use strict";
  var form = document.getElementById("ou-editor-form");
  var button = document.getElementById("ou-preview-button");
  if (!form || !button || typeof form.requestSubmit !== "function") {
    return;
  }
  var timer = null;
  function refresh() {
    timer = null;
    form.requestSubmit(button);
  }
  function later() {
    if (timer) {
      clearTimeout(timer);
    }
    timer = setTimeout(refresh, 700);
  }
  form.addEventListener("input", later);
  // A choice in a list (the sample order's status) is a change, not an input,
  // in some browsers.
  form.addEventListener("change", later);
  // After a failed save or a test send, show the text as it is in the form.
  if (form.querySelector(".errorlist") || document.querySelector(".messagelist")) {
    refresh();
  }
})();
