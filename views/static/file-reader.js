// Reads a chosen file into a (hidden) textarea of the same form, so the file's text is posted as a normal form
// field: no multipart parsing on the server, and the CSP stays strict (this file is the only script involved).
(function () {
  'use strict';
  var MAX_BYTES = 2 * 1024 * 1024;
  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('form[data-file-form]').forEach(function (form) {
      form.hidden = false; // Without JavaScript the file form stays hidden; pasting and URLs still work.
      var input = form.querySelector('input[type=file][data-read-into]');
      var target = form.querySelector(input.getAttribute('data-read-into'));
      var status = form.querySelector('[data-file-status]');
      var submit = form.querySelector('[data-needs-file]');
      input.addEventListener('change', function () {
        var file = input.files && input.files[0];
        target.value = '';
        if (submit) submit.disabled = true;
        if (!file) return;
        if (file.size > MAX_BYTES) {
          status.textContent = file.name + ' is larger than 2 MB; that is not a metadata file.';
          return;
        }
        var reader = new FileReader();
        reader.onload = function () {
          target.value = String(reader.result);
          status.textContent = file.name + ' (' + Math.max(1, Math.round(file.size / 1024)) + ' KB) is ready.';
          if (submit) submit.disabled = false;
        };
        reader.onerror = function () { status.textContent = 'Could not read ' + file.name + '.'; };
        reader.readAsText(file);
      });
    });
  });
})();
