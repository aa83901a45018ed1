// Shows <time data-local> elements in the viewer's own time zone (the server renders UTC).
(function () {
  'use strict';
  var format = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  function localise(root) {
    root.querySelectorAll('time[data-local]').forEach(function (el) {
      var d = new Date(el.getAttribute('datetime'));
      if (!isNaN(d.getTime())) {
        el.title = el.textContent;
        el.textContent = format.format(d);
      }
      el.removeAttribute('data-local');
    });
  }
  window.gatehouseLocalise = localise;
  document.addEventListener('DOMContentLoaded', function () { localise(document); });
})();
