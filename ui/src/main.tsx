import { render } from "preact";
import "./styles.css";
import { useEffect, useState } from "preact/hooks";
import { ErrorBox, Loading } from "./components/common";
import { Layout } from "./components/layout";
import { ApiError } from "./api";
import { interceptLinks, useLocation } from "./router";
import { pageFor } from "./routes";
import { loadSession, SessionContext, type SessionInfo } from "./session";

function App() {
  const location = useLocation();
  const [session, setSession] = useState<SessionInfo | undefined>();
  const [error, setError] = useState<ApiError | undefined>();
  const refresh = async () => {
    try {
      setSession(await loadSession());
      setError(undefined);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, "UNKNOWN", String(err)));
    }
  };
  useEffect(() => {
    void refresh();
  }, []);
  useEffect(() => {
    const main = document.getElementById("main");
    document.title = `Berth${location.path === "/" ? "" : ` · ${location.path.slice(1).split("/")[0]}`}`;
    main?.focus({ preventScroll: true });
  }, [location.path]);
  if (error) return <ErrorBox error={error} />;
  if (!session) return <Loading what="Starting" />;
  return (
    <SessionContext.Provider value={{ session, refresh }}>
      <Layout path={location.path}>{pageFor(location.path, location.query)}</Layout>
    </SessionContext.Provider>
  );
}

interceptLinks();
render(<App />, document.getElementById("app")!);
