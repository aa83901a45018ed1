// Copy buttons: <button data-copy="#input-id"> copies that field's value and says so.
(function () {
  'use strict';
  function copyText(text, field) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    // Plain-http origins have no async clipboard: select the field and use the legacy command.
    field.removeAttribute('readonly');
    field.select();
    var ok = document.execCommand('copy');
    field.setAttribute('readonly', '');
    return ok ? Promise.resolve() : Promise.reject(new Error('copy failed'));
  }
  document.addEventListener('click', function (event) {
    var button = event.target.closest('[data-copy]');
    if (!button) return;
    var field = document.querySelector(button.getAttribute('data-copy'));
    if (!field) return;
    var label = button.getAttribute('data-label') || button.textContent;
    button.setAttribute('data-label', label);
    copyText(field.value, field).then(
      function () { button.textContent = 'Copied'; },
      function () { field.select(); button.textContent = 'Press Ctrl+C'; }
    );
    setTimeout(function () { button.textContent = label; }, 2000);
  });
})();
