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
  form.addEventListener("input", function () {
    if (timer) {
      clearTimeout(timer);
    }
    timer = setTimeout(refresh, 700);
  });
  // After a failed save or a test send, show the text as it is in the form.
  if (form.querySelector(".errorlist") || document.querySelector(".messagelist")) {
    refresh();
  }
})();
