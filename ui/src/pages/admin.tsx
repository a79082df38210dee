/** Users, tokens, namespaces and members, the audit log (issue 16; being built). */
export function AdminPage({ section }: { section: string; query: URLSearchParams }) {
  return (
    <section>
      <h1>Admin: {section}</h1>
    </section>
  );
}
