import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { location } from "../test/fixtures";
import { LocationPicker } from "./LocationPicker";

const places = ["Tokyo", "Toronto", "Lisbon", "Kyoto"].map((n) => location(n));

describe("LocationPicker", () => {
  it("selects with the keyboard: type, arrow down, Enter", async () => {
    const onSelect = vi.fn();
    render(<LocationPicker locations={places} selected={null} onSelect={onSelect} />);
    const box = screen.getByRole("combobox", { name: /Location/ });
    await userEvent.type(box, "to");
    const options = screen.getAllByRole("option");
    expect(options.map((o) => o.textContent)).toEqual(["TokyoJP", "TorontoJP", "KyotoJP"]);
    expect(options[0]).toHaveAttribute("aria-selected", "true");
    await userEvent.keyboard("{ArrowDown}{Enter}");
    expect(onSelect).toHaveBeenCalledWith("Toronto");
    expect(screen.queryByRole("listbox")).not.toBeInTheDocument();
  });

  it("says when nothing matches, and Escape closes the list", async () => {
    render(<LocationPicker locations={places} selected="Tokyo" onSelect={() => undefined} />);
    const box = screen.getByRole("combobox");
    await userEvent.type(box, "zzz");
    expect(screen.getByText(/No location matches/)).toBeInTheDocument();
    await userEvent.keyboard("{Escape}");
    expect(screen.queryByRole("listbox")).not.toBeInTheDocument();
    expect(box).toHaveAttribute("aria-expanded", "false");
  });

  it("selects with a click", async () => {
    const onSelect = vi.fn();
    render(<LocationPicker locations={places} selected={null} onSelect={onSelect} />);
    await userEvent.type(screen.getByRole("combobox"), "lis");
    await userEvent.click(screen.getByRole("option", { name: /Lisbon/ }));
    expect(onSelect).toHaveBeenCalledWith("Lisbon");
  });
});
