/** The signed-in user's robot tokens (issue 16; being built). */
export function MyTokensPage() {
  return (
    <section>
      <h1>My tokens</h1>
    </section>
  );
}
