/** A repository: its tags (issue 16; being built). */
export function RepositoryPage({ name }: { name: string; query: URLSearchParams }) {
  return (
    <section>
      <h1>{name}</h1>
    </section>
  );
}
