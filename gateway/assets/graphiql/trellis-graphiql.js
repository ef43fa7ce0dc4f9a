// Trellis: mounts GraphiQL against /graphql. A file of its own because the
// page's Content-Security-Policy allows no inline script.
//
// Paste a bearer token into the Headers tab ({"Authorization": "Bearer …"}),
// then re-fetch the schema (the refresh button, or Shift-Ctrl-R).
//
// Nothing is kept in the browser's storage: queries, variables, headers
// (the token) and answers may hold health information or secrets, so they
// live in this tab's memory only and are gone when it closes.
(function () {
  'use strict';

  var root = document.getElementById('graphiql');
  var endpoint = root.getAttribute('data-endpoint');

  var memory = new Map();
  var storage = {
    getItem: function (key) {
      return memory.has(key) ? memory.get(key) : null;
    },
    setItem: function (key, value) {
      memory.set(key, String(value));
    },
    removeItem: function (key) {
      memory.delete(key);
    },
    clear: function () {
      memory.clear();
    },
    get length() {
      return memory.size;
    },
  };

  function fetcher(params, options) {
    var headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
    var extra = (options && options.headers) || {};
    Object.keys(extra).forEach(function (name) {
      headers[name] = extra[name];
    });
    return fetch(endpoint, {
      method: 'POST',
      headers: headers,
      body: JSON.stringify(params),
      credentials: 'omit',
    }).then(function (response) {
      return response.json();
    });
  }

  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      storage: storage,
      defaultHeaders: '{\n  "Authorization": "Bearer "\n}',
      defaultEditorToolsVisibility: 'headers',
      shouldPersistHeaders: false,
    }),
  );
})();
