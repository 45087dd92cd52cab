// Runs in the browser, after React, ReactDOM and GraphiQL's bundle have set their globals.
const settings = JSON.parse(document.getElementById('explorer-settings').textContent);
// Headers typed in the editor are sent too, and win over these.
const fetcher = GraphiQL.createFetcher({
  url: window.location.pathname,
  headers: settings.authorization ? { Authorization: settings.authorization } : {},
});
ReactDOM.createRoot(document.getElementById('explorer')).render(
  React.createElement(GraphiQL, {
    fetcher,
    defaultQuery: settings.query,
    headers: settings.headers,
    // The token stays out of localStorage.
    shouldPersistHeaders: false,
    defaultEditorToolsVisibility: 'headers',
  }),
);
